import type { KeyObject } from "node:crypto";
import { type KeyAlgorithm, signatureAlgorithmOid, signData, verifySignature } from "../x509/algorithms.ts";

/**
 * A device's signed statement that it crypto-erased its data for a wipe: signed with the device key
 * just before the key is erased, kept as a plain file outside the erased store (it holds no secret),
 * and delivered to `POST /api/v1/wipe-receipts` without a client certificate until acknowledged.
 * The server verifies it against the certificate on record (`certificate` names it by its SHA-256
 * fingerprint) and the wipe it has pending for that device. The claim's bytes are signed as sent
 * (no canonicalisation to disagree on), like the signed envelope (`signed.ts`).
 */
export interface WipeReceipt {
  v: 1;
  /** base64 of the UTF-8 JSON `WipeReceiptClaim`. */
  payload: string;
  /** The device key's algorithm. */
  alg: KeyAlgorithm;
  /** SHA-256 fingerprint (lowercase hex) of the device certificate whose key signed. */
  certificate: string;
  /** base64 signature over the payload bytes. */
  sig: string;
}

export interface WipeReceiptClaim {
  type: "wipe-receipt";
  deviceId: string;
  wipeId: string;
  /** When the device erased its data (ISO 8601), as the device's clock says. */
  wipedAt: string;
}

export const WIPE_RECEIPT_MAX_BYTES = 16 * 1024;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const RECEIPT_ALGORITHMS: readonly KeyAlgorithm[] = [
  "ecdsa-p256",
  "ecdsa-p384",
  "ml-dsa-44",
  "ml-dsa-65",
  "ml-dsa-87",
];

export function signWipeReceipt(
  claim: Omit<WipeReceiptClaim, "type">,
  key: { algorithm: KeyAlgorithm; privateKey: KeyObject; certificateFingerprint: string },
): WipeReceipt {
  const bytes = Buffer.from(JSON.stringify({ type: "wipe-receipt", ...claim }), "utf8");
  return {
    v: 1,
    payload: bytes.toString("base64"),
    alg: key.algorithm,
    certificate: key.certificateFingerprint,
    sig: signData(key.algorithm, key.privateKey, bytes).toString("base64"),
  };
}

export type ParsedWipeReceipt =
  | { ok: true; receipt: WipeReceipt; claim: WipeReceiptClaim; payload: Buffer; signature: Buffer }
  | { ok: false; reason: string };

/** Shape checks only (validate at the edge); the signature is checked by `verifyWipeReceipt`. */
export function parseWipeReceipt(v: unknown): ParsedWipeReceipt {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { ok: false, reason: "not an object" };
  const r = v as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => !["v", "payload", "alg", "certificate", "sig"].includes(k));
  if (extra.length) return { ok: false, reason: `unknown member ${extra[0]}` };
  if (r.v !== 1) return { ok: false, reason: "v must be 1" };
  if (typeof r.alg !== "string" || !RECEIPT_ALGORITHMS.includes(r.alg as KeyAlgorithm))
    return { ok: false, reason: `alg must be one of ${RECEIPT_ALGORITHMS.join(", ")}` };
  if (typeof r.certificate !== "string" || !/^[0-9a-f]{64}$/.test(r.certificate))
    return { ok: false, reason: "certificate must be a SHA-256 fingerprint (64 lowercase hex digits)" };
  for (const name of ["payload", "sig"] as const)
    if (typeof r[name] !== "string" || !B64.test(r[name] as string) || (r[name] as string).length % 4 !== 0)
      return { ok: false, reason: `${name} must be base64` };
  const payload = Buffer.from(r.payload as string, "base64");
  let claim: unknown;
  try {
    claim = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, reason: "payload is not JSON" };
  }
  if (!isClaim(claim)) return { ok: false, reason: "payload is not a wipe receipt claim" };
  return {
    ok: true,
    receipt: r as unknown as WipeReceipt,
    claim,
    payload,
    signature: Buffer.from(r.sig as string, "base64"),
  };
}

function isClaim(v: unknown): v is WipeReceiptClaim {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    c.type === "wipe-receipt" &&
    typeof c.deviceId === "string" &&
    DEVICE_ID.test(c.deviceId) &&
    typeof c.wipeId === "string" &&
    ID.test(c.wipeId) &&
    typeof c.wipedAt === "string" &&
    !Number.isNaN(Date.parse(c.wipedAt)) &&
    Object.keys(c).length === 4
  );
}

/** The signature over the claim's bytes, with the key of the certificate the receipt names. */
export function verifyWipeReceipt(
  parsed: Extract<ParsedWipeReceipt, { ok: true }>,
  algorithm: KeyAlgorithm,
  publicKey: KeyObject,
): boolean {
  if (parsed.receipt.alg !== algorithm) return false;
  return verifySignature(signatureAlgorithmOid(algorithm), publicKey, parsed.payload, parsed.signature);
}
