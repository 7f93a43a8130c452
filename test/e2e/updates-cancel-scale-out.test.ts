import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import type { JobNotify } from "../../packages/sdk/src/wire/jobs.ts";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import { stopChild, waitFor } from "../helpers.ts";
import { connect, twoProcesses } from "../scale-out-helpers.ts";
import { freshSchema, needServices } from "../services.ts";

/**
 * Issue #15 follow-up: a deployment's cancel reaches every device told of its job, across two
 * server processes over one PostgreSQL (and Redis): a device connected to the other process gets
 * it at once; a device offline at cancel time gets it when it connects (to either process) and
 * subscribes, again on each subscribe until it acknowledges it (`canceled` on its job's status).
 * Before, the cancel was committed first and told once: the offline device never heard of it.
 */
describe("updates scale-out: a cancel reaches devices on the other process and devices offline then", () => {
  it("tells the online device at once and the offline one when it subscribes, until acknowledged", async (t) => {
    if (!(await needServices(t, ["postgres", "redis"]))) return;
    const schema = freshSchema();
    await schema.create();
    const { a, b, servers, rootPem, adminKey, apiA } = await twoProcesses(schema, "bulwark-updates-cancel-");
    const clients: MqttClient[] = [];
    try {
      const productId = (await apiA.api<{ id: string }>("POST", "/api/v1/products", { name: "Cancel C2" }))
        .body.id;
      const token = (
        await apiA.api<{ token: string }>("POST", "/api/v1/enrolment-tokens", {
          group: "default",
          maxUses: 2,
        })
      ).body.token;
      const devices: EnrolledDevice[] = [];
      for (let i = 0; i < 2; i++) {
        const device = await enrolDirect(apiA, token);
        await apiA.api("PATCH", `/api/v1/devices/${device.deviceId}`, { product: productId });
        devices.push(device);
      }
      const [online, offline] = devices as [EnrolledDevice, EnrolledDevice];
      /** A device on `port` that records its `jobs/notify` messages; resolves once subscribed. */
      const device = async (d: EnrolledDevice, port: number) => {
        const client = await connect(port, rootPem, d);
        clients.push(client);
        const notes: JobNotify[] = [];
        client.on("message", (_t, payload) => notes.push(JSON.parse(payload.toString()) as JobNotify));
        await client.subscribeAsync(deviceTopics(d.deviceId).jobsNotify, { qos: 1 });
        return { client, notes };
      };

      // The online device is on B; the other is offline during the rollout's start and the cancel.
      const first = await device(online, b.mqttPort);
      const release = (
        await apiA.api<{ id: string }>("POST", `/api/v1/products/${productId}/releases`, { version: "1.0.0" })
      ).body.id;
      const upload = await httpsRequest({
        url: `${a.httpUrl}/api/v1/releases/${release}/artifacts?name=fw.img`,
        method: "POST",
        ca: rootPem,
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/octet-stream" },
        body: Buffer.alloc(1024, 1),
      });
      assert.equal(upload.status, 201);
      assert.equal((await apiA.api("POST", `/api/v1/releases/${release}/publish`)).status, 200);
      const created = await apiA.api<{ id: string }>("POST", "/api/v1/deployments", {
        releaseId: release,
        devices: devices.map((d) => d.deviceId),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      const jobs = async () =>
        (
          await apiA.api<{ items: { id: string; deviceId: string; state: string }[] }>(
            "GET",
            `/api/v1/deployments/${id}/jobs`,
          )
        ).body.items;
      // Both jobs announced (the offline device's announcement went nowhere); the online one downloads.
      const announced = await waitFor("both jobs notified", async () => {
        const items = await jobs();
        return items.length === 2 && items.every((j) => j.state === "notified") && items;
      });
      const jobOf = (d: EnrolledDevice) => announced.find((j) => j.deviceId === d.deviceId)!.id;
      await waitFor("online device announced", async () => first.notes.some((n) => n.state === "notified"));
      await first.client.publishAsync(
        deviceTopics(online.deviceId).jobStatus(jobOf(online)),
        JSON.stringify({ state: "downloading" }),
        { qos: 1 },
      );
      await waitFor("downloading", async () =>
        (await jobs()).some((j) => j.deviceId === online.deviceId && j.state === "downloading"),
      );

      // Canceled through A; the online device is on B.
      assert.equal((await apiA.api("POST", `/api/v1/deployments/${id}/cancel`)).status, 200);
      await waitFor("cancel on B", async () =>
        first.notes.some((n) => n.jobId === jobOf(online) && n.state === "canceled"),
      );
      assert.ok((await jobs()).every((j) => j.state === "canceled"));

      // The offline device comes online on A: it gets its cancel; it has not acknowledged it, so
      // on its next connection (to B) it gets it again; it acknowledges.
      const late = await device(offline, a.mqttPort);
      await waitFor("cancel on subscribe", async () =>
        late.notes.some((n) => n.jobId === jobOf(offline) && n.state === "canceled"),
      );
      late.client.end(true);
      const again = await device(offline, b.mqttPort);
      await waitFor("cancel again on the next subscribe", async () =>
        again.notes.some((n) => n.jobId === jobOf(offline) && n.state === "canceled"),
      );
      await again.client.publishAsync(
        deviceTopics(offline.deviceId).jobStatus(jobOf(offline)),
        JSON.stringify({ state: "canceled" }),
        { qos: 1 },
      );
      // The acknowledgement changed no job and no job's history.
      for (const d of devices) {
        const events = await apiA.api<{ items: { to_state: string }[] }>(
          "GET",
          `/api/v1/deployments/${id}/jobs/${jobOf(d)}/events`,
        );
        assert.deepEqual(
          events.body.items.map((e) => e.to_state),
          d === online
            ? ["queued", "notified", "downloading", "canceled"]
            : ["queued", "notified", "canceled"],
        );
      }
    } finally {
      for (const c of clients) c.end(true);
      for (const s of servers)
        if (s.child.exitCode === null && s.child.signalCode === null) await stopChild(s.child);
      await schema.drop();
    }
  });
});
