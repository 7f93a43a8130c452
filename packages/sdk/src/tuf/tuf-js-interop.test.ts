import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Updater } from "tuf-js";
import { type Fixture, fixture, keyring, signRoot } from "../../test/tuf-fixtures.ts";
import { httpFetcher } from "./client/fetcher.ts";
import { memoryStore } from "./client/store.ts";
import { TufUpdater } from "./client/updater.ts";
import { isTufError } from "./errors.ts";
import { keyFamily } from "./keys.ts";
import type { Envelope, Root, Timestamp } from "./metadata.ts";
import { createSigningRequest, importSignature, signSigningRequest } from "./repository/signing-request.ts";

/**
 * Interoperability: stock tuf-js (the TUF client npm and sigstore use) as a reference client
 * verifying a repository our writer produced, served over loopback HTTP at Bulwark's layout
 * (`/tuf/{productId}/{n}.root.json`, `/tuf/{productId}/timestamp.json`, …,
 * `/tuf/{productId}/targets/…`). Every role carries ECDSA and ML-DSA keys; tuf-js cannot verify
 * ML-DSA, skips those keys and must still meet each threshold with the ECDSA signatures.
 */
const PRODUCT = "prod-7f3a";
const servers: Server[] = [];
const dirs: string[] = [];

after(async () => {
  for (const server of servers) server.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Serve the fixture's published files and targets on 127.0.0.1, port 0. */
async function serve(f: Fixture): Promise<string> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const prefix = `/tuf/${PRODUCT}/`;
    const name = path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
    const body =
      name === undefined
        ? undefined
        : name.startsWith("targets/")
          ? f.targetFiles.get(name.slice("targets/".length))
          : f.served.get(name);
    res.writeHead(body ? 200 : 404, { "content-type": "application/octet-stream" });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/tuf/${PRODUCT}`;
}

/** A stock tuf-js Updater bootstrapped with our version-1 root, as a device would be. */
async function tufJs(f: Fixture, base: string): Promise<{ updater: Updater; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-tufjs-"));
  dirs.push(dir);
  await writeFile(join(dir, "root.json"), f.repo.files().get("1.root.json") as Buffer);
  const updater = new Updater({
    metadataDir: dir,
    metadataBaseUrl: base,
    targetDir: dir,
    targetBaseUrl: `${base}/targets`,
    config: { fetchRetry: 0 },
  });
  return { updater, dir };
}

const isTufJsError = (name: string) => (error: unknown) =>
  error instanceof Error && error.constructor.name === name;

describe("stock tuf-js verifies a repository written by Bulwark (hybrid ECDSA + ML-DSA keys)", () => {
  it("refreshes, finds the target with its custom fields and downloads it, skipping the ML-DSA keys", async () => {
    const f = await fixture({ now: new Date() });
    const families = Object.values(f.repo.root.keys).map(keyFamily);
    assert.equal(families.filter((k) => k === "ml-dsa").length, 4, "each role lists an ML-DSA key");
    const timestamp = JSON.parse(f.served.get("timestamp.json")!.toString()) as Envelope<Timestamp>;
    assert.equal(timestamp.signatures.length, 2, "timestamp carries an ECDSA and an ML-DSA signature");

    const { updater, dir } = await tufJs(f, await serve(f));
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/fw-1.0.0.bin");
    assert.ok(info);
    assert.deepEqual(info.custom, { version: "1.0.0", kind: "feature" });
    const file = await updater.downloadTarget(info, join(dir, "fw.bin"));
    assert.equal((await readFile(file)).toString(), "firmware 1.0.0");
  });

  it("follows a root rotation (v2 rotates the timestamp key) and delegations per component", async () => {
    const f = await fixture({ now: new Date() });
    const base = await serve(f);
    const rings = { ...f.rings, timestamp: keyring(1) };
    const v2 = await signRoot(f.rootSpec(2, rings), [...f.rings.root.signers]);
    f.repo.rotateRoot(v2);
    const component = keyring(1);
    f.repo.delegate({
      name: "component-bootloader",
      keys: component.keys,
      threshold: 1,
      paths: ["bootloader/*"],
      terminating: true,
    });
    f.addTarget(
      "bootloader/bl-2.bin",
      Buffer.from("bootloader 2"),
      { version: "2", hardware: ["rev-b"] },
      "component-bootloader",
    );
    await f.repo.publish({
      ...f.signers,
      timestamp: rings.timestamp.signers,
      "component-bootloader": component.signers,
    });
    f.serve();

    const { updater, dir } = await tufJs(f, base);
    await updater.refresh();
    const info = await updater.getTargetInfo("bootloader/bl-2.bin");
    assert.ok(info);
    assert.deepEqual(info.custom, { version: "2", hardware: ["rev-b"] });
    assert.equal(
      (await readFile(await updater.downloadTarget(info, join(dir, "bl.bin")))).toString(),
      "bootloader 2",
    );
  });

  it("follows a 2-of-3 hybrid root rotated through offline signing requests", async () => {
    const f = await fixture({ now: new Date(), rootPairs: 3, rootThreshold: 2 });
    const base = await serve(f);
    const newRoot = keyring(3);
    const next = f.rootSpec(2, { ...f.rings, root: newRoot }, { root: 2 });
    const request = createSigningRequest(next, [...f.rings.root.keys, ...newRoot.keys]);
    const holders = [0, 1].flatMap((i) => [
      f.rings.root.ecdsa[i]!,
      f.rings.root.mldsa[i]!,
      newRoot.ecdsa[i]!,
      newRoot.mldsa[i]!,
    ]);
    let envelope: Envelope<Root> = { signed: next, signatures: [] };
    for (const holder of holders) {
      envelope = importSignature(envelope, signSigningRequest(request, holder.privateKey), {
        ...f.repo.root.keys,
        ...next.keys,
      });
    }
    // Positive control first: without the second old root holder, tuf-js refuses v2 (§5.3.4).
    const short = {
      ...envelope,
      signatures: envelope.signatures.filter((s) => s.keyid !== f.rings.root.ecdsa[1]!.keyid),
    };
    f.served.set("2.root.json", Buffer.from(JSON.stringify(short)));
    await assert.rejects((await tufJs(f, base)).updater.refresh(), isTufJsError("UnsignedMetadataError"));
    f.repo.rotateRoot(envelope);
    f.serve();
    const { updater, dir } = await tufJs(f, base);
    await updater.refresh();
    assert.ok(await updater.getTargetInfo("firmware/fw-1.0.0.bin"));
    // tuf-js now trusts root v2 (it persists the newest root it verified as root.json).
    assert.equal(JSON.parse(await readFile(join(dir, "root.json"), "utf8")).signed.version, 2);
  });

  it("rejects metadata whose ECDSA signature is missing although its ML-DSA signature is there (it counts ECDSA only)", async () => {
    const f = await fixture({ now: new Date() });
    const timestamp = JSON.parse(f.served.get("timestamp.json")!.toString()) as Envelope<Timestamp>;
    const ecdsaKeyid = f.rings.timestamp.ecdsa[0]!.keyid;
    timestamp.signatures = timestamp.signatures.filter((s) => s.keyid !== ecdsaKeyid);
    f.served.set("timestamp.json", Buffer.from(JSON.stringify(timestamp)));
    const { updater } = await tufJs(f, await serve(f));
    await assert.rejects(updater.refresh(), isTufJsError("UnsignedMetadataError"));
  });

  it("rejects a target whose bytes were swapped (positive control of its hash check)", async () => {
    const f = await fixture({ now: new Date() });
    for (const name of f.targetFiles.keys()) f.targetFiles.set(name, Buffer.from("firmware 6.6.6"));
    const { updater, dir } = await tufJs(f, await serve(f));
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/fw-1.0.0.bin");
    assert.ok(info);
    await assert.rejects(
      updater.downloadTarget(info, join(dir, "fw.bin")),
      isTufJsError("LengthOrHashMismatchError"),
    );
  });
});

describe("our client over HTTP (httpFetcher) against the same loopback server", () => {
  it("refreshes under the hybrid policy and downloads the target", async () => {
    const f = await fixture({ now: new Date() });
    const base = await serve(f);
    const updater = new TufUpdater({
      fetcher: httpFetcher({ metadataBaseUrl: base, targetBaseUrl: `${base}/targets` }),
      store: memoryStore(),
      bootstrapRoot: f.repo.files().get("1.root.json"),
    });
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/fw-1.0.0.bin");
    assert.ok(info);
    assert.equal((await updater.downloadTarget(info)).toString(), "firmware 1.0.0");
  });

  it("stops reading a response longer than the limit (§5.4.1) and maps 404 to absent", async () => {
    const f = await fixture({ now: new Date() });
    const base = await serve(f);
    const fetcher = httpFetcher({ metadataBaseUrl: base, targetBaseUrl: `${base}/targets` });
    const size = f.served.get("timestamp.json")!.length;
    assert.equal((await fetcher.fetchMetadata("timestamp.json", size))?.length, size);
    const error = await fetcher.fetchMetadata("timestamp.json", size - 1).catch((e: unknown) => e);
    assert.ok(isTufError(error, "TUF_TOO_LARGE"), String(error));
    assert.equal(await fetcher.fetchMetadata("9.root.json", 1000), undefined);
  });
});
