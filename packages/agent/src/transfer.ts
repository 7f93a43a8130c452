import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { openWith, sealTo, xwingKeyPair } from "@bulwark/sdk/kem";
import { fromPemAll } from "@bulwark/sdk/pem";
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm, sign, verify } from "@bulwark/sdk/sign";
import type { EncryptedStore } from "@bulwark/sdk/store";
import {
  MAX_TRANSFER_ENVELOPE_BYTES,
  type TransferCommand,
  type TransferPayload,
  type TransferStatus,
  transferAad,
  transferSignedMessage,
} from "@bulwark/sdk/wire/transfer";
import { keyAlgorithmOf } from "@bulwark/sdk/x509/algorithms";
import { APPLIED_CONFIG, loadDeviceKey } from "./device-store.ts";
import { statePaths } from "./state.ts";
import { OUTBOX_PREFIX } from "./updates/update-records.ts";

/** Records that belong to this agent's own run and do not move with the data. */
const AGENT_STATE = new Set([APPLIED_CONFIG, "queue-dropped"]);
const IMPORTED_PREFIX = "transfer-imported-";
/** Also the steps and reports waiting for their PUBACK: the source's, not the recipient's to send. */
const agentOwned = (name: string) =>
  AGENT_STATE.has(name) || name.startsWith(IMPORTED_PREFIX) || name.startsWith(OUTBOX_PREFIX);
const secretName = (transferId: string) => `transfer-${transferId}`;
/** Beside the one-time key (in `keys`, which never travels): when it is erased unless imported by then. */
const EXPIRY_PREFIX = "transfer-expires-";
const expiryName = (transferId: string) => `${EXPIRY_PREFIX}${transferId}`;
/** What a finished import leaves in the store: how many records it took in, so a repeat is answered alike. */
const importedName = (transferId: string) => `${IMPORTED_PREFIX}${transferId}`;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export interface TransferContext {
  store: EncryptedStore;
  stateDir: string;
  deviceId: string;
  /** The root pinned at enrolment. */
  root: { pem: string; fingerprint: string };
}

class TransferRefused extends Error {}

/**
 * Carries out one transfer command; returns what to report on `jobs/{transferId}/status`.
 * The server sends a command again on each reconnect until the step that answers it arrives, so a
 * command may come twice (or after its answer is already on the way): a repeat is answered with
 * the same step and redoes nothing that cannot be undone — the same key pair, the import not taken
 * in again. Export is only a read, so a repeat seals again (the server keeps the first it gets).
 */
export function handleTransfer(command: TransferCommand, ctx: TransferContext): TransferStatus {
  const { transferId } = command;
  try {
    switch (command.type) {
      case "transfer-prepare":
        return prepare(transferId, command.keyExpiresAt, ctx);
      case "transfer-export":
        return exportData(command, ctx);
      case "transfer-import":
        return importData(command, ctx);
    }
  } catch (error) {
    const reason = error instanceof TransferRefused ? error.message : `failed: ${(error as Error).message}`;
    return { state: "transfer-failed", transferId, reason: reason.slice(0, 256) };
  }
}

/**
 * The recipient: a one-time X-Wing key pair for this transfer, its secret (the seed) kept in the
 * store. Asked again, the same pair: a new one would orphan an export already sealed to the first.
 */
function prepare(transferId: string, keyExpiresAt: number | undefined, ctx: TransferContext): TransferStatus {
  if (ctx.store.get("state", importedName(transferId)))
    throw new TransferRefused("this transfer was already imported");
  if (keyExpiresAt !== undefined && keyExpiresAt <= Date.now())
    throw new TransferRefused("this transfer is past its end: no key is made for it");
  const kept = ctx.store.get("keys", secretName(transferId));
  const pair = kept ? xwingKeyPair(kept) : xwingKeyPair();
  // The expiry first: a key is never kept without it (a stop in between leaves an expiry alone, swept).
  if (!kept && keyExpiresAt !== undefined)
    ctx.store.putJson("keys", expiryName(transferId), { keyExpiresAt });
  if (!kept) ctx.store.put("keys", secretName(transferId), pair.secretKey);
  return { state: "transfer-key", transferId, publicKey: b64(pair.publicKey) };
}

/** The source: its data, compressed, sealed to the recipient's key and signed with the device key. */
function exportData(
  command: Extract<TransferCommand, { type: "transfer-export" }>,
  ctx: TransferContext,
): TransferStatus {
  const payload: TransferPayload = { format: "bulwark-transfer", version: 1, state: {}, queue: {} };
  for (const name of ctx.store.list("state"))
    if (!agentOwned(name)) payload.state[name] = b64(ctx.store.get("state", name) ?? Buffer.alloc(0));
  for (const { id, value } of ctx.store.peekQueue(Number.MAX_SAFE_INTEGER)) payload.queue[id] = b64(value);
  const aad = transferAad(command.transferId, ctx.deviceId, command.recipientId);
  const envelope = sealTo(
    Buffer.from(command.recipientKey, "base64"),
    deflateRawSync(Buffer.from(JSON.stringify(payload))),
    { direction: "to-device", aad },
  );
  if (envelope.length > MAX_TRANSFER_ENVELOPE_BYTES)
    throw new TransferRefused(
      `the data is ${envelope.length} bytes sealed; a transfer carries at most ${MAX_TRANSFER_ENVELOPE_BYTES}`,
    );
  const key = loadDeviceKey(ctx.store);
  const algorithm = keyAlgorithmOf(key) as SignatureAlgorithm;
  const signed = transferSignedMessage(command.transferId, ctx.deviceId, command.recipientId, envelope);
  const paths = statePaths(ctx.stateDir);
  const chain = [
    ...fromPemAll("CERTIFICATE", readFileSync(paths.cert, "utf8")),
    ...fromPemAll("CERTIFICATE", readFileSync(paths.chain, "utf8")),
  ];
  return {
    state: "transfer-exported",
    transferId: command.transferId,
    envelope: b64(envelope),
    signature: b64(sign(algorithm, key, signed)),
    algorithm,
    chain: chain.slice(0, 2).map(b64),
  };
}

/** The recipient: the source is checked against this device's own pinned root before anything opens. */
function importData(
  command: Extract<TransferCommand, { type: "transfer-import" }>,
  ctx: TransferContext,
): TransferStatus {
  // Already taken in: the same answer, nothing written again (the records may have changed since).
  const done = ctx.store.getJson<{ records: number }>("state", importedName(command.transferId));
  if (done) return { state: "transfer-imported", transferId: command.transferId, records: done.records };
  const secret = ctx.store.get("keys", secretName(command.transferId));
  if (!secret) throw new TransferRefused("no key was prepared for this transfer");
  const source = checkSource(command, ctx);
  const envelope = Buffer.from(command.envelope, "base64");
  const signed = transferSignedMessage(command.transferId, command.sourceId, ctx.deviceId, envelope);
  const algorithm = command.algorithm as SignatureAlgorithm;
  if (
    !SIGNATURE_ALGORITHMS.includes(algorithm) ||
    keyAlgorithmOf(source.publicKey) !== algorithm ||
    !verify(algorithm, source.publicKey, signed, Buffer.from(command.signature, "base64"))
  )
    throw new TransferRefused("the source's signature does not verify");
  const aad = transferAad(command.transferId, command.sourceId, ctx.deviceId);
  const payload = JSON.parse(
    inflateRawSync(openWith(secret, envelope, { direction: "to-device", aad }), {
      maxOutputLength: 16 * 2 ** 20,
    }).toString("utf8"),
  ) as TransferPayload;
  if (payload.format !== "bulwark-transfer" || payload.version !== 1)
    throw new TransferRefused("not a transfer payload");
  let records = 0;
  for (const [name, value] of Object.entries(payload.state ?? {})) {
    if (agentOwned(name)) continue;
    ctx.store.put("state", name, Buffer.from(value, "base64"));
    records++;
  }
  for (const [id, value] of Object.entries(payload.queue ?? {})) {
    ctx.store.put("queue", id, Buffer.from(value, "base64"));
    records++;
  }
  ctx.store.putJson("state", importedName(command.transferId), { records });
  eraseTransferKey(ctx.store, command.transferId); // one transfer, one key
  return { state: "transfer-imported", transferId: command.transferId, records };
}

/** The source's certificate: issued under this device's pinned root, naming the source device, in date. */
function checkSource(
  command: Extract<TransferCommand, { type: "transfer-import" }>,
  ctx: TransferContext,
): X509Certificate {
  const [leaf, issuer] = command.sourceChain.map((d) => new X509Certificate(Buffer.from(d, "base64")));
  const root = new X509Certificate(ctx.root.pem);
  if (!leaf || !issuer) throw new TransferRefused("the source's certificate chain is incomplete");
  const issuerTrusted =
    sha256Fingerprint(issuer.raw) === ctx.root.fingerprint ||
    (issuer.checkIssued(root) && issuer.verify(root.publicKey));
  if (!issuerTrusted || !leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey))
    throw new TransferRefused("the source's certificate does not chain to the pinned root");
  if (!(leaf.subjectAltName ?? "").includes(`URI:urn:uuid:${command.sourceId}`))
    throw new TransferRefused("the source's certificate names another device");
  const now = Date.now();
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo))
    throw new TransferRefused("the source's certificate is not valid now");
  return leaf;
}

/** Deletes a transfer's one-time key and its expiry (the store's records are AES-GCM under a data key: deleted, unreadable). */
export function eraseTransferKey(store: EncryptedStore, transferId: string): void {
  store.delete("keys", secretName(transferId));
  store.delete("keys", expiryName(transferId));
}

/**
 * The one-time keys whose transfer is past its end (the `keyExpiresAt` the server signed into
 * `transfer-prepare`): a transfer that failed before its import leaves its key on the recipient
 * only until then. Returns the transfer ids erased, and when the next key expires.
 */
export function eraseExpiredTransferKeys(
  store: EncryptedStore,
  now = Date.now(),
): { erased: string[]; next: number | undefined } {
  const erased: string[] = [];
  let next: number | undefined;
  for (const name of store.list("keys")) {
    if (!name.startsWith(EXPIRY_PREFIX)) continue;
    const transferId = name.slice(EXPIRY_PREFIX.length);
    const expiry = store.getJson<{ keyExpiresAt: number }>("keys", name)?.keyExpiresAt;
    if (typeof expiry === "number" && expiry > now) {
      next = next === undefined ? expiry : Math.min(next, expiry);
      continue;
    }
    eraseTransferKey(store, transferId);
    erased.push(transferId);
  }
  return { erased, next };
}
