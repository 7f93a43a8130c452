import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { requireRouteAuth } from "../../packages/server/src/access/route-auth.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, tempDir } from "../helpers.ts";

describe("restart and at-rest protection", () => {
  it("a restarted server keeps its CA, devices and admin, and creates no second admin", async () => {
    const dir = tempDir("bulwark-restart-");
    const first = await startTestServer({ dir });
    const device = await enrolDirect(first, await createToken(first));
    const fingerprint = first.rootFingerprint;
    await first.close();
    // The bootstrap key file exists, so a second first-run would fail loudly; it must not run at all.
    const second = await startTestServer({ dir });
    try {
      assert.equal(second.firstRun, undefined);
      assert.equal(second.rootFingerprint, fingerprint);
      const res = await second.api<{ id: string; online: boolean }>(
        "GET",
        `/api/v1/devices/${device.deviceId}`,
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.online, false);
    } finally {
      await second.close();
    }
  });

  it("CA keys are stored encrypted: no PEM private key on disk, and a wrong master key cannot open them", async () => {
    const dir = tempDir("bulwark-kek-");
    const server = await startTestServer({ dir });
    await server.close();
    const { readdirSync } = await import("node:fs");
    const keysDir = join(dir, "data", "keys");
    const files = readdirSync(keysDir);
    assert.ok(files.length >= 4);
    for (const file of files) assert.doesNotMatch(readFileSync(join(keysDir, file), "utf8"), /PRIVATE KEY/);
    const { FileKeyCustody } = await import("../../packages/server/src/custody/file-key-custody.ts");
    const wrong = new FileKeyCustody({ dir: keysDir, masterKey: Buffer.alloc(32, 7) });
    const id = files[0]!.replace(".key.json", "");
    await assert.rejects(wrong.signer(id), /wrong master key or tampered/);
  });

  it("a route registered without an access rule fails at start-up", async () => {
    const app = Fastify();
    requireRouteAuth(app);
    assert.throws(() => app.get("/unguarded", async () => "x"), /has no access rule/);
    await app.close();
  });
});
