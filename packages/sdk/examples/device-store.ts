/**
 * The encrypted device store: keys, state and queued data under a key hierarchy, atomic writes,
 * tampering reported as a device security event.
 * Run: node packages/sdk/examples/device-store.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileKek, openStore, StoreTamperError, toSecurityReport } from "@bulwark/sdk/store";

const dir = mkdtempSync(join(tmpdir(), "bulwark-store-example-"));
try {
  // The KEK file is the portable default; on hardware with a TPM or secure element, implement
  // KeyEncryptionKey there instead.
  const kek = fileKek(join(dir, "kek"));
  const store = openStore({
    dir: join(dir, "store"),
    kek,
    // The agent sends this on its `events` topic.
    onSecurityEvent: (event) => console.log("security event:", JSON.stringify(toSecurityReport(event))),
  });

  store.put("keys", "device-key", Buffer.from("-----BEGIN PRIVATE KEY----- ..."));
  store.putJson("state", "config", { telemetryInterval: 300 });
  const id = store.enqueue(Buffer.from(JSON.stringify({ kind: "login-failed" })));
  console.log("config:", store.getJson("state", "config"));
  console.log(
    "queued:",
    store.peekQueue().map((e) => e.value.toString()),
  );
  store.ack(id);

  // Someone edits the sealed record on disk.
  const path = join(dir, "store", "state", "config.rec");
  const bytes = readFileSync(path);
  bytes[bytes.length - 1]! ^= 1;
  writeFileSync(path, bytes);
  try {
    store.getJson("state", "config");
    process.exit(1);
  } catch (error) {
    if (!(error instanceof StoreTamperError)) throw error;
    console.log(`refused: ${error.message}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
