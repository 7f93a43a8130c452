import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { MqttClient } from "mqtt";
import pg from "pg";
import { startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";
import { freshSchema, needServices } from "../../../../test/services.ts";
import { productDevice, publishedRelease } from "../../../../test/update-helpers.ts";

/**
 * MQTT 3.1.1 §4.3.2 / MQTT 5 §4.3.2 (QoS 1): with PUBACK the server takes ownership of the
 * message and the device discards it. So the PUBACK of a device's job report must not leave before
 * the report is stored: a real server over PostgreSQL, a real mqtt.js device, and the report's
 * write held up by a row lock taken from another connection, then made to fail.
 */
describe("QoS 1 from a device: PUBACK only once the message is stored", () => {
  it("acknowledges a stored report; a report whose write is blocked or fails gets no PUBACK and is sent again", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const schema = freshSchema();
    await schema.create();
    let server: TestServer | undefined;
    let client: MqttClient | undefined;
    const locker = new pg.Client({ connectionString: schema.url });
    try {
      server = await startTestServer({ args: ["--store", "postgres", "--database-url", schema.url] });
      const s = server;
      const product = await s.api<{ id: string }>("POST", "/api/v1/products", { name: "Durable D1" });
      const device = await productDevice(s, product.body.id);
      const releaseId = await publishedRelease(s, product.body.id, "1.0.0");
      // Reconnects by itself, as the agent does, and sends its unacknowledged messages again.
      const c = await connectDevice(s, device, { reconnectPeriod: 100 });
      client = c;
      const topics = deviceTopics(device.deviceId);
      const notes: JobNotify[] = [];
      c.on("message", (_t, payload) => notes.push(JSON.parse(payload.toString()) as JobNotify));
      await c.subscribeAsync(topics.jobsNotify, { qos: 1 });
      const created = await s.api<{ id: string }>("POST", "/api/v1/deployments", {
        releaseId,
        devices: [device.deviceId],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const jobId = (await waitFor("the job announced", async () => notes[0]))?.jobId;
      const report = (state: string) =>
        c.publishAsync(topics.jobStatus(jobId), JSON.stringify({ state }), { qos: 1 });
      const stored = async () => {
        const events = await s.api<{ items: { to_state: string }[] }>(
          "GET",
          `/api/v1/deployments/${created.body.id}/jobs/${jobId}/events`,
        );
        return events.body.items.map((e) => e.to_state);
      };

      // Positive path: once the PUBACK is in, the report is stored (no waiting).
      await report("downloading");
      assert.deepEqual(await stored(), ["queued", "notified", "downloading"]);

      // The job's row locked from another connection: the report's UPDATE waits on it.
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("SELECT id FROM deployment_jobs WHERE id = $1 FOR UPDATE", [jobId]);
      const lockerPid = (await locker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      const pubacks: number[] = [];
      let pubackSeen!: () => void;
      const firstPuback = new Promise<"puback">((resolve) => {
        pubackSeen = () => resolve("puback");
      });
      c.on("packetreceive", (packet) => {
        if (packet.cmd !== "puback" || packet.messageId === undefined) return;
        pubacks.push(packet.messageId);
        pubackSeen();
      });
      const closed = new Promise<"closed">((resolve) => c.once("close", () => resolve("closed")));
      let acked = false;
      const verifying = report("verifying").then(() => {
        acked = true;
      });
      const blocked = await Promise.race([
        firstPuback,
        waitFor("the report's write waiting for the lock", async () => {
          const row = await locker.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            [lockerPid],
          );
          return row.rows[0]?.pid;
        }),
      ]);
      assert.notEqual(blocked, "puback", "PUBACK arrived while the report's write was held up");
      // The write fails (its statement canceled): the server closes the connection without PUBACK.
      await locker.query("SELECT pg_cancel_backend($1)", [blocked]);
      // Positive control: the close comes after anything the server wrote before it, on one stream.
      assert.equal(
        await Promise.race([firstPuback, closed]),
        "closed",
        "no PUBACK before the report was stored",
      );
      assert.deepEqual(pubacks, []);
      assert.equal(acked, false);
      assert.deepEqual(
        await stored(),
        ["queued", "notified", "downloading"],
        "the failed write left nothing",
      );

      // The lock goes; the device sends the report again on its new connection and it is stored.
      await locker.query("ROLLBACK");
      await verifying;
      assert.equal(pubacks.length, 1);
      assert.deepEqual(await stored(), ["queued", "notified", "downloading", "verifying"]);
    } finally {
      client?.end(true);
      await locker.end().catch(() => {});
      await server?.close();
      await schema.drop();
    }
  });
});
