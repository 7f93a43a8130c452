import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { streamUpload } from "../../packages/cli/src/stream-upload.ts";
import { startTestServer, type TestServer } from "../helpers.ts";
import { productWithRelease } from "../update-helpers.ts";

/**
 * RFC 9110 §10.1.1 on the artifact upload: the server asks for the body (100 Continue) only once
 * the request's headers passed every check, and the CLI sends the body only when asked. Before,
 * a refused upload raced the server's close: "write EPIPE" instead of the reason, 1 run in 3.
 */
describe("uploads with Expect: 100-continue", () => {
  let server: TestServer;
  let releaseId: string;
  const dir = mkdtempSync(join(tmpdir(), "bulwark-continue-"));
  const file = join(dir, "image.bin");

  before(async () => {
    server = await startTestServer();
    releaseId = (await productWithRelease(server, "Continue Router")).releaseId;
    writeFileSync(file, randomBytes(3 * 1024 * 1024 + 5));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const upload = (name: string, authorization = `Bearer ${server.adminKey}`) => {
    let sent = 0;
    const url = `${server.httpUrl}/api/v1/releases/${releaseId}/artifacts?name=${encodeURIComponent(name)}`;
    return streamUpload(
      url,
      { ca: server.rootPem, authorization },
      { file, contentType: "application/octet-stream", onProgress: (n) => (sent = n) },
    ).then((res) => ({ ...res, sent }));
  };

  /** A client that waits for 100 (Continue) forever: only the server's 100 makes it send the body. */
  const waitingClient = (path: string, body: Buffer, headers: Record<string, string>) =>
    new Promise<{ status: number; continued: boolean; text: string }>((resolve, reject) => {
      const req = request(`${server.httpUrl}${path}`, {
        method: "POST",
        ca: server.rootPem,
        headers: { ...headers, "content-length": String(body.length), expect: "100-continue" },
      });
      let continued = false;
      req.on("continue", () => {
        continued = true;
        req.end(body);
      });
      req.on("response", (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => {
          req.destroy();
          resolve({ status: r.statusCode ?? 0, continued, text: Buffer.concat(chunks).toString() });
        });
      });
      req.on("error", reject);
      req.flushHeaders();
    });

  it("the server asks for an upload's body only once its headers passed every check", async () => {
    const bytes = randomBytes(64 * 1024);
    const headers = {
      authorization: `Bearer ${server.adminKey}`,
      "content-type": "application/octet-stream",
    };
    const path = (name: string) => `/api/v1/releases/${releaseId}/artifacts?name=${encodeURIComponent(name)}`;
    const bad = await waitingClient(path("../x"), bytes, headers);
    assert.deepEqual([bad.status, bad.continued], [400, false], bad.text);
    const stranger = await waitingClient(path("a.bin"), bytes, {
      ...headers,
      authorization: "Bearer bw_nope",
    });
    assert.deepEqual([stranger.status, stranger.continued], [401, false], stranger.text);
    // Positive control: a good request is asked for its body (100), sends it, and is stored.
    const good = await waitingClient(path("a.bin"), bytes, headers);
    assert.deepEqual([good.status, good.continued], [201, true], good.text);
  });

  it("a refused upload gets its reason every time, and not one byte of the body is sent", async () => {
    for (let i = 0; i < 10; i++) {
      const bad = await upload("../x");
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.text, /BW_ERR_VALIDATION/);
      assert.equal(bad.sent, 0, "the body waited for a 100 that never came");
      const unauthenticated = await upload("image.bin", "Bearer bw_not_a_key");
      assert.equal(unauthenticated.status, 401, unauthenticated.text);
      assert.equal(unauthenticated.sent, 0);
    }
    // Positive control: the same file under a good name is asked for, sent whole and stored.
    const good = await upload("image.bin");
    assert.equal(good.status, 201, good.text);
    assert.equal(good.sent, 3 * 1024 * 1024 + 5);
    assert.equal((JSON.parse(good.text) as { length: number }).length, 3 * 1024 * 1024 + 5);
  });

  it("routes that do not defer still answer a client that waits for 100 (Continue)", async () => {
    const res = await waitingClient(
      "/api/v1/products",
      Buffer.from(JSON.stringify({ name: "continue-product" })),
      {
        authorization: `Bearer ${server.adminKey}`,
        "content-type": "application/json",
      },
    );
    assert.deepEqual([res.status, res.continued], [201, true], res.text);
  });
});
