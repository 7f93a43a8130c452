import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { DOCUMENT_SIGNING_EKU, sealEnvelope } from "@bulwark/sdk/wire/signed";
import type { UserNoticeCommand } from "@bulwark/sdk/wire/user-notice";
import { signData } from "@bulwark/sdk/x509/algorithms";
import { tempDir, waitFor } from "../../../test/helpers.ts";
import { issue } from "../../sdk/test/pki.ts";
import { openAgentStore } from "./device-store.ts";
import { createLog } from "./log.ts";
import { noticeShower, showUserNotice } from "./user-notice.ts";
import { acceptCommand } from "./wipe.ts";

const root = issue({ cn: "Root", ca: true });
const ca = issue({ cn: "Service CA", ca: true, issuer: root });
const leaf = issue({ cn: "Config signer", ca: false, issuer: ca, eku: [DOCUMENT_SIGNING_EKU] });
const pinned = { pem: root.pem, fingerprint: sha256Fingerprint(root.der) };
const seal = (payload: unknown) =>
  JSON.parse(
    JSON.stringify(
      sealEnvelope(
        payload,
        { algorithm: leaf.algorithm, sign: (d: Buffer) => signData(leaf.algorithm, leaf.keys.privateKey, d) },
        [leaf.der, ca.der],
      ),
    ),
  ) as unknown;

const deviceId = "0192f1a0-7b7e-7c3d-8a5e-1234567890ab";
const notice: UserNoticeCommand = {
  type: "user-notice",
  deviceId,
  noticeId: "0192f1a0-7b7e-7c3d-8a5e-00000000000a",
  eventId: "0192f1a0-7b7e-7c3d-8a5e-00000000000b",
  kind: "vulnerability",
  vulnerability: "CVE-2021-44228",
  title: "CVE-2021-44228 actively exploited",
  text: "Remote code execution in the logging library.",
  severity: "critical",
  action: "Install firmware 2.1.0",
  advisoryUrls: ["https://bulwark.example/.well-known/csaf/white/2026/a.json"],
  affectedVersion: "2.0.0",
  issuedAt: Date.now(),
};

describe("agent: the CRA Art. 14(8) user notice command", () => {
  it("accepts a signed notice for this device; still refuses an unknown command, another device's, a malformed one", () => {
    const ctx = { deviceId, root: pinned };
    const ok = acceptCommand(seal(notice), ctx);
    assert.ok(ok.ok && ok.command.type === "user-notice");
    for (const [payload, reason] of [
      [{ type: "reboot", deviceId, issuedAt: Date.now() }, "not a known command"],
      [{ ...notice, severity: "urgent" }, "not a known command"],
      [{ ...notice, deviceId: "0192f1a0-7b7e-7c3d-8a5e-ffffffffffff" }, "command for another device"],
    ] as const)
      assert.deepEqual(acceptCommand(seal(payload), ctx), { ok: false, reason });
    // Unsigned: refused before its type is even read.
    const forged = { ...(seal(notice) as object), sig: Buffer.alloc(70).toString("base64") };
    assert.deepEqual(acceptCommand(forged, ctx), { ok: false, reason: "signature: signature-invalid" });
  });

  it("runs the notification hook once with the notice, and acknowledges a re-sent notice without running it again", async () => {
    const dir = tempDir("bulwark-agent-notice-");
    const out = join(dir, "hook.log");
    writeFileSync(
      join(dir, "updates.json"),
      JSON.stringify({
        notifyHook: [
          "/bin/sh",
          "-c",
          `printf '%s|%s|%s|%s|%s\\n' "$BULWARK_UPDATE_EVENT" "$BULWARK_NOTICE_SEVERITY" "$BULWARK_NOTICE_ACTION" "$BULWARK_NOTICE_ADVISORIES" "$BULWARK_NOTICE_VERSION" >> ${out}`,
        ],
      }),
    );
    const store = openAgentStore(dir);
    const log = createLog("error");
    const first = await showUserNotice(notice, { store, stateDir: dir, log });
    assert.deepEqual(first, { state: "notice-acknowledged", noticeId: notice.noticeId, hook: "ran" });
    const again = await showUserNotice({ ...notice, issuedAt: Date.now() }, { store, stateDir: dir, log });
    assert.deepEqual(again, first);
    assert.equal(
      readFileSync(out, "utf8"),
      `security-notice|critical|Install firmware 2.1.0|${notice.advisoryUrls[0]}|2.0.0\n`,
      "one run, with the notice",
    );
    // A failing hook is reported as such; the notice is still acknowledged (the device got it).
    writeFileSync(join(dir, "updates.json"), JSON.stringify({ notifyHook: ["/bin/false"] }));
    const failed = await showUserNotice(
      { ...notice, noticeId: "other-notice" },
      { store, stateDir: dir, log },
    );
    assert.equal(failed.hook, "failed");
  });

  it("a notice sent again while its hook still runs waits for that run: the hook runs once", async () => {
    // A hook that says it started, then waits for the test to let it finish.
    const setUp = () => {
      const dir = tempDir("bulwark-agent-notice-");
      const started = join(dir, "started");
      const go = join(dir, "go");
      const out = join(dir, "hook.log");
      writeFileSync(
        join(dir, "updates.json"),
        JSON.stringify({
          notifyHook: [
            "/bin/sh",
            "-c",
            `echo x >> ${started}; while [ ! -e ${go} ]; do sleep 0.01; done; echo "$BULWARK_NOTICE_ID" >> ${out}`,
          ],
        }),
      );
      const runs = () => (existsSync(started) ? readFileSync(started, "utf8").split("\n").length - 1 : 0);
      const lines = () => readFileSync(out, "utf8");
      return {
        ctx: { store: openAgentStore(dir), stateDir: dir, log: createLog("error") },
        runs,
        go: go!,
        lines,
      };
    };

    // Control: showUserNotice alone, asked twice before the first run recorded the notice, runs the hook twice.
    const bare = setUp();
    const both = [showUserNotice(notice, bare.ctx), showUserNotice(notice, bare.ctx)];
    await waitFor("both runs started", async () => bare.runs() === 2);
    writeFileSync(bare.go, "");
    await Promise.all(both);
    assert.equal(bare.lines(), `${notice.noticeId}\n${notice.noticeId}\n`);

    const shower = setUp();
    const show = noticeShower(shower.ctx);
    const first = show(notice);
    await waitFor("the run started", async () => shower.runs() === 1);
    const again = show({ ...notice, issuedAt: Date.now() }); // delivered again meanwhile
    writeFileSync(shower.go, "");
    const acks = await Promise.all([first, again]);
    assert.deepEqual(acks, [
      { state: "notice-acknowledged", noticeId: notice.noticeId, hook: "ran" },
      { state: "notice-acknowledged", noticeId: notice.noticeId, hook: "ran" },
    ]);
    // Once shown, a later delivery is answered from the record.
    assert.deepEqual(await show(notice), acks[0]);
    assert.equal(shower.runs(), 1);
    assert.equal(shower.lines(), `${notice.noticeId}\n`, "one run");
  });
});
