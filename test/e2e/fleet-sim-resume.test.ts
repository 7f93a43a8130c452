import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { createSecureContext } from "node:tls";
import { type BenchSetup, publishImageRelease, setUpBench } from "../../bench/fleet-sim/harness.ts";
import type { SimDevice } from "../../bench/fleet-sim/identities.ts";
import { downloadVerified, emptyPartial } from "../../bench/fleet-sim/update-device.ts";

/**
 * The fleet simulator's download after a cut (what its devices do when the process serving them
 * dies mid-download, `updates-scale-out.test.ts`), against the real server's target route: a TCP
 * relay cuts the first connection after part of the response, and the next attempt asks for the
 * rest only (HTTP Range with If-Range on the target's ETag, RFC 9110 §14.2, §13.1.5), continues
 * the hash over it and ends verified; bytes that do not hash to the target make the attempt fail
 * and the next one start over.
 */
const PRODUCT = "Resumed R1";
const CUT_AFTER = 256 * 1024;

/** Relays TCP to `port`; the first connection's server-to-client stream is cut after `CUT_AFTER` bytes. */
async function cuttingRelay(port: number) {
  const sent: number[] = [];
  const open = new Set<Socket>();
  const server = createServer((client: Socket) => {
    const index = sent.push(0) - 1;
    const upstream = connect({ host: "127.0.0.1", port });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
    }
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (index === 0 && sent[index]! + chunk.length > CUT_AFTER) {
        client.write(chunk.subarray(0, CUT_AFTER - sent[index]!));
        sent[index] = CUT_AFTER;
        client.destroy();
        upstream.destroy();
        return;
      }
      sent[index]! += chunk.length;
      client.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    /** Bytes relayed from the server on each connection so far. */
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("fleet simulator: a download cut off resumes from where it stopped", () => {
  let setup: BenchSetup;
  before(async () => {
    setup = await setUpBench({
      devices: 1,
      processes: 1,
      afterIssue: async (store) => {
        await store.run(`UPDATE devices SET product = ?`, [PRODUCT]);
      },
    });
  });
  after(async () => {
    await setup?.cleanup();
  });

  it("asks for the rest with Range after a cut, and starts over when the bytes held are wrong", async () => {
    const server = setup.servers[0]!;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await setup.api(server, method, path, body);
      assert.ok(res.status === 200 || res.status === 201, `${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body as Record<string, unknown>;
    };
    const image = randomBytes(1024 * 1024);
    const { productId } = await publishImageRelease(call, PRODUCT, image);
    const expected = { sha256: createHash("sha256").update(image).digest("hex"), length: image.length };

    const device = JSON.parse(readFileSync(setup.file, "utf8").trim().split("\n")[0]!) as SimDevice;
    const secureContext = createSecureContext({
      key: device.keyPem,
      cert: device.certChainPem,
      ca: setup.rootPem,
      minVersion: "TLSv1.3",
    });
    const relay = await cuttingRelay(Number(new URL(server.httpUrl).port));
    try {
      const download = (partial: ReturnType<typeof emptyPartial>) =>
        downloadVerified({
          host: "127.0.0.1",
          port: relay.port,
          path: `/tuf/${productId}/targets/firmware/1.0.0/${expected.sha256}.image.bin`,
          secureContext,
          localAddress: "127.0.0.1",
          expected,
          partial,
        });

      // 1. Cut off: part of the body arrived and is kept.
      const partial = emptyPartial();
      // Node's IncomingMessage errors with "aborted" (ECONNRESET) when the connection ends mid-body.
      await assert.rejects(download(partial), { message: /^(aborted|cut off after \d+ of \d+ bytes)$/ });
      assert.ok(partial.bytes > 0 && partial.bytes < image.length, `${partial.bytes} bytes kept`);
      const held = partial.bytes;

      // 2. The next attempt gets the rest only (206) and ends verified against the whole target.
      assert.equal(await download(partial), "resumed");
      assert.equal(partial.bytes, 0, "nothing held once verified");
      assert.ok(
        relay.sent[1]! < image.length - held + 64 * 1024,
        `the resumed attempt moved ${relay.sent[1]} bytes for the ${image.length - held} missing`,
      );

      // 3. Held bytes that are not the target's: the resumed body fails the hash, nothing is kept,
      //    and the attempt after it takes the whole file again.
      const wrong = emptyPartial();
      wrong.hash.update(Buffer.alloc(held, 0));
      wrong.bytes = held;
      await assert.rejects(download(wrong), /SHA-256 mismatch/);
      assert.equal(wrong.bytes, 0);
      assert.equal(await download(wrong), "whole");
      assert.ok(relay.sent[3]! > image.length, "the whole file again");
    } finally {
      await relay.close();
    }
  });
});
