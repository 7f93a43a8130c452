import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createApiKey } from "../../packages/server/src/access/api-keys.ts";
import { createUser } from "../../packages/server/src/access/users.ts";
import { insertDevice, newDeviceId, recordMetadata } from "../../packages/server/src/fleet/devices.ts";
import { cyclonedx, osvDir, osvRecord } from "../../packages/server/test/store-fixtures.ts";
import { CLI, runCli, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";

/**
 * Article 14 (issue #16 item 4): a newly known-exploited finding opens a candidate on its own, the
 * clocks run from awareness and survive restarts, reminders are raised once, submissions recorded.
 */
const KEV = new URL("../data/kev/known_exploited_vulnerabilities.json.gz", import.meta.url).pathname;
const HOUR = 3600_000;

interface Clock {
  stage: string;
  dueAt: string | null;
  state: string;
  waitingFor: string | null;
}
interface Report {
  id: string;
  status: string;
  trigger: string;
  vulnerability: string | null;
  awareAt: number;
  clocks: Clock[];
  findings: string[];
}
const clock = (r: Report, stage: string) => r.clocks.find((c) => c.stage === stage)!;

describe("CRA Article 14 reporting (issue #16)", () => {
  const dir = tempDir("bulwark-cra-art14-");
  let server: TestServer;
  let product: string;
  let kevEvent: Report;
  let lateEvent: Report;
  const restart = async () => {
    await server.close();
    server = await startTestServer({ dir });
  };
  before(async () => {
    server = await startTestServer({ dir });
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
    const release = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "2.0.0",
    });
    const system = { type: "system" } as const;
    await server.software.monitor.importAdvisories(
      osvDir(dir, [
        osvRecord({ id: "GHSA-art1-4000-0001", aliases: ["CVE-2021-44228"], name: "log4js", fixed: "2.0.0" }),
      ]),
      system,
    );
    await server.software.monitor.attachSbom(release.body.id, cyclonedx(["log4js@1.0.0"]), system);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a newly known-exploited finding opens a candidate event on its own, its clocks running from awareness", async () => {
    const none = await server.api<{ items: Report[] }>("GET", `/api/v1/cra/reports?product=${product}`);
    assert.deepEqual(none.body.items, [], "no event before the KEV listing");
    await server.software.monitor.importKev(KEV, { type: "system" });
    kevEvent = await waitFor("the candidate event", async () => {
      const list = await server.api<{ items: Report[] }>("GET", `/api/v1/cra/reports?product=${product}`);
      return list.body.items[0];
    });
    assert.equal(kevEvent.status, "candidate");
    assert.equal(kevEvent.trigger, "kev");
    assert.equal(kevEvent.vulnerability, "CVE-2021-44228");
    assert.equal(kevEvent.findings.length, 1);
    assert.equal(Date.parse(clock(kevEvent, "early-warning").dueAt!), kevEvent.awareAt + 24 * HOUR);
    assert.equal(Date.parse(clock(kevEvent, "notification").dueAt!), kevEvent.awareAt + 72 * HOUR);
    assert.equal(clock(kevEvent, "final").state, "waiting");
    assert.match(clock(kevEvent, "final").waitingFor!, /corrective/);
  });

  it("drafts follow the ENISA field list; a submission is refused before confirmation and recorded after", async () => {
    const draft = await server.api<{
      fieldListVersion: string;
      fields: Record<string, unknown>;
      text: string;
    }>("GET", `/api/v1/cra/reports/${kevEvent.id}/drafts/early-warning`);
    assert.equal(draft.status, 200);
    assert.match(draft.body.fieldListVersion, /ENISA SRP field glossary v1\.3/);
    assert.equal(draft.body.fields.productName, "gateway");
    assert.deepEqual(draft.body.fields.productVersions, ["2.0.0"]);
    assert.match(draft.body.text, /awarenessTimeUtc: /);
    const submission = { stage: "early-warning", csirt: "CERT-Bund (DE)", reference: "SRP-2026-0001" };
    const early = await server.api<{ code: string }>(
      "POST",
      `/api/v1/cra/reports/${kevEvent.id}/submissions`,
      submission,
    );
    assert.equal(early.status, 409);
    assert.equal(early.body.code, "BW_ERR_CONFLICT");
    await server.api("POST", `/api/v1/cra/reports/${kevEvent.id}/actions`, { type: "confirm" });
    const done = await server.api<Report>(
      "POST",
      `/api/v1/cra/reports/${kevEvent.id}/submissions`,
      submission,
    );
    assert.equal(done.status, 201, JSON.stringify(done.body));
    assert.equal(clock(done.body, "early-warning").state, "submitted");
    assert.equal(clock(done.body, "notification").state, "running");
  });

  it("bulwark cra report list|show|draft|submit", async () => {
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const list = await runCli(CLI, ["cra", "report", "list", "--product", product], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${kevEvent.id}.*notification: \\d+ h \\d+ min left`));
    const show = await runCli(CLI, ["cra", "report", "show", kevEvent.id], env);
    assert.match(show.stdout, /early-warning\s+submitted/);
    assert.match(show.stdout, /final\s+waiting for a corrective or mitigating measure/);
    const draft = await runCli(CLI, ["cra", "report", "draft", kevEvent.id, "--stage", "notification"], env);
    assert.match(draft.stdout, /^CRA Article 14 report: notification/);
    assert.match(draft.stdout, /natureOfExploit: /);
    const submit = await runCli(
      CLI,
      [
        "cra",
        "report",
        "submit",
        kevEvent.id,
        "--stage",
        "notification",
        "--csirt",
        "CERT-Bund (DE)",
        "--reference",
        "SRP-2",
      ],
      env,
    );
    assert.equal(submit.code, 0, submit.stderr);
    assert.match(submit.stdout, /notification\s+submitted/);
    const again = await runCli(
      CLI,
      ["cra", "report", "submit", kevEvent.id, "--stage", "notification", "--csirt", "X", "--reference", "Y"],
      env,
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already recorded \(BW_ERR_CONFLICT\)/);
    const usage = await runCli(CLI, ["cra", "report", "draft", kevEvent.id], env);
    assert.equal(usage.code, 2);
  });

  it("a role scoped to one product reaches that product's reports only", async () => {
    const other = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "camera" })).body.id;
    const theirs = await server.api<Report>("POST", "/api/v1/cra/reports", {
      productId: other,
      kind: "incident",
      title: "Camera incident",
      summary: "Not the gateway's",
    });
    assert.equal(theirs.status, 201);
    const user = await createUser(server.store, {
      username: "gateway-analyst",
      password: "unused long password",
      role: null,
      mustChangePassword: false,
    });
    const assigned = await server.api("POST", `/api/v1/users/${user.id}/role-assignments`, {
      role: "security-analyst",
      productId: product,
    });
    assert.equal(assigned.status, 201);
    const { key } = await createApiKey(server.store, {
      ownerId: user.id,
      name: "scoped",
      role: "security-analyst",
      expiresAt: null,
    });
    const as = { authorization: `Bearer ${key}` };
    const list = await server.api<{ items: Report[] }>("GET", "/api/v1/cra/reports", undefined, as);
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((r) => r.id === kevEvent.id));
    assert.ok(
      !list.body.items.some((r) => r.id === theirs.body.id),
      "the other product's event is not listed",
    );
    assert.equal((await server.api("GET", `/api/v1/cra/reports/${kevEvent.id}`, undefined, as)).status, 200);
    for (const [method, path, body] of [
      ["GET", `/api/v1/cra/reports/${theirs.body.id}`, undefined],
      ["GET", `/api/v1/cra/reports?product=${other}`, undefined],
      ["GET", `/api/v1/cra/reports/${theirs.body.id}/drafts/early-warning`, undefined],
      ["POST", `/api/v1/cra/reports/${theirs.body.id}/actions`, { type: "dismiss", reason: "not ours" }],
      ["POST", "/api/v1/cra/reports", { productId: other, kind: "incident", title: "x", summary: "y" }],
    ] as const) {
      const refused = await server.api<{ code: string }>(method, path, body, as);
      assert.equal(refused.status, 403, `${method} ${path}`);
      assert.equal(refused.body.code, "BW_ERR_FORBIDDEN");
    }
    assert.equal(
      (await server.api<Report>("GET", `/api/v1/cra/reports/${theirs.body.id}`)).body.status,
      "confirmed",
    );
    // The awareness log spans every product: verifying it needs a global grant.
    assert.equal((await server.api("GET", "/api/v1/cra/awareness-log/verify", undefined, as)).status, 403);
    const own = await server.api<Report>(
      "POST",
      "/api/v1/cra/reports",
      { productId: product, kind: "incident", title: "Scoped incident", summary: "On the gateway" },
      as,
    );
    assert.equal(own.status, 201, JSON.stringify(own.body));
  });

  it("records the corrective measure, starts the final clock, and prepares the Art. 14(8) user notice", async () => {
    const group = await server.api<{ id: string }>("POST", "/api/v1/groups", { name: "gateways" });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    await server.api("PUT", `/api/v1/products/${product}/groups/gateways`);
    const [onAffected, onOther] = [newDeviceId(), newDeviceId()];
    for (const [id, firmwareVersion] of [
      [onAffected, "2.0.0"],
      [onOther, "2.1.0"],
    ] as const) {
      await insertDevice(server.store, { id, groupId: group.body.id, enrolledVia: "token" });
      await recordMetadata(server.store, id, { firmwareVersion }, 0);
    }
    const corrected = await server.api<Report>("POST", `/api/v1/cra/reports/${kevEvent.id}/actions`, {
      type: "corrective-available",
      measure: "firmware 2.1.0 replaces log4js",
    });
    assert.equal(corrected.status, 200, JSON.stringify(corrected.body));
    assert.equal(clock(corrected.body, "final").state, "running");
    const notice = await server.api<{ devices: string[]; affectedVersions: string[]; text: string }>(
      "GET",
      `/api/v1/cra/reports/${kevEvent.id}/user-notice`,
    );
    assert.deepEqual(notice.body.affectedVersions, ["2.0.0"]);
    assert.deepEqual(notice.body.devices, [onAffected]);
    assert.match(notice.body.text, /Corrective measure: firmware 2\.1\.0 replaces log4js/);
    const draft = await server.api<{ fields: Record<string, unknown> }>(
      "GET",
      `/api/v1/cra/reports/${kevEvent.id}/drafts/final`,
    );
    assert.equal(draft.body.fields.securityUpdate, "firmware 2.1.0 replaces log4js");
  });

  it("raises a reminder before a deadline once, and the clocks and reminders survive a restart", async () => {
    const awareAt = new Date(Date.now() - 20 * HOUR).toISOString();
    const opened = await server.api<Report>("POST", "/api/v1/cra/reports", {
      productId: product,
      kind: "incident",
      title: "Credential stuffing against the device portal",
      summary: "Accounts taken over on the maker's cloud",
      awareAt,
      maliciousSuspected: true,
    });
    assert.equal(opened.status, 201);
    lateEvent = opened.body;
    assert.equal(clock(lateEvent, "early-warning").state, "running");
    assert.equal(clock(lateEvent, "final").waitingFor, "the notification to be submitted");
    const reminders = async () =>
      (
        await server.api<{ items: { kind: string; details: { eventId: string; stage: string } }[] }>(
          "GET",
          "/api/v1/notifications",
        )
      ).body.items.filter((n) => n.kind === "cra-report-deadline" && n.details.eventId === lateEvent.id);
    // The watcher runs on start: the early warning is due within 6 hours.
    await restart();
    const first = await waitFor("the reminder", async () =>
      (await reminders()).length > 0 ? reminders() : undefined,
    );
    assert.deepEqual(
      first.map((n) => n.details.stage),
      ["early-warning"],
    );
    const before = await server.api<Report>("GET", `/api/v1/cra/reports/${kevEvent.id}`);
    await restart();
    const afterRestart = await server.api<Report>("GET", `/api/v1/cra/reports/${kevEvent.id}`);
    assert.deepEqual(
      afterRestart.body.clocks.map((c) => [c.stage, c.dueAt, c.state]),
      before.body.clocks.map((c) => [c.stage, c.dueAt, c.state]),
    );
    // Positive control: after the restart the watcher ran (a fresh incident gets its reminder),
    // yet the first one was not raised again.
    const fresh = await server.api<Report>("POST", "/api/v1/cra/reports", {
      productId: product,
      kind: "incident",
      title: "Second incident",
      summary: "Another one",
      awareAt: new Date(Date.now() - 21 * HOUR).toISOString(),
    });
    await waitFor(
      "the second reminder",
      async () => {
        const all = (
          await server.api<{ items: { kind: string; details: { eventId: string } }[] }>(
            "GET",
            "/api/v1/notifications",
          )
        ).body.items;
        return all.some((n) => n.kind === "cra-report-deadline" && n.details.eventId === fresh.body.id);
      },
      90_000,
    );
    assert.equal((await reminders()).length, 1, "the first reminder was raised once");
    const verified = await server.api<{ entries: number; brokenAt: number | null }>(
      "GET",
      "/api/v1/cra/awareness-log/verify",
    );
    assert.equal(verified.body.brokenAt, null);
    assert.ok(verified.body.entries >= 4);
  });

  it("the awareness log shows a moved awareness time", async () => {
    await server.store.run(`UPDATE cra_awareness_log SET at = at + 3600000 WHERE seq = 1`);
    await server.store.run(
      `UPDATE cra_awareness_log SET entry = REPLACE(entry, '"at":', '"at":1') WHERE seq = 1`,
    );
    const verified = await server.api<{ brokenAt: number | null }>("GET", "/api/v1/cra/awareness-log/verify");
    assert.equal(verified.body.brokenAt, 1);
  });
});
