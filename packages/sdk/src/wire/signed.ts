import { verify, X509Certificate } from "node:crypto";
import { sha256Fingerprint } from "../fingerprint.ts";
import type { KeyAlgorithm } from "../x509/algorithms.ts";

/**
 * Signed server → device messages (`config` and `cmd` topics). The payload bytes are signed as
 * sent (no canonicalisation to disagree on); the signing certificate and its issuer travel with
 * the message so a device can chain them to the root it pinned at enrolment.
 */
export interface SignedEnvelope {
  v: 1;
  /** base64 of the UTF-8 JSON payload. */
  payload: string;
  /** base64 signature over the payload bytes. */
  sig: string;
  alg: KeyAlgorithm;
  /** base64 DER: [signing certificate, issuing CA]. */
  chain: string[];
}

// RFC 9336 §3.1 id-kp-documentSigning: the EKU a config-signing certificate must carry.
export const DOCUMENT_SIGNING_EKU = "1.3.6.1.5.5.7.3.36";

const HASH: Record<KeyAlgorithm, string | null> = {
  "ecdsa-p256": "sha256",
  "ecdsa-p384": "sha384",
  "ml-dsa-44": null,
  "ml-dsa-65": null,
  "ml-dsa-87": null,
  "slh-dsa-sha2-128s": null,
};

export type EnvelopeFailure =
  | "malformed"
  | "chain-invalid"
  | "not-a-signing-certificate"
  | "expired"
  | "signature-invalid";

export class EnvelopeError extends Error {
  readonly reason: EnvelopeFailure;
  constructor(reason: EnvelopeFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

export function sealEnvelope(
  payload: unknown,
  signer: { algorithm: KeyAlgorithm; sign(data: Buffer): Buffer },
  chainDer: Buffer[],
): SignedEnvelope {
  const bytes = Buffer.from(JSON.stringify(payload), "utf8");
  return {
    v: 1,
    payload: bytes.toString("base64"),
    sig: signer.sign(bytes).toString("base64"),
    alg: signer.algorithm,
    chain: chainDer.map((der) => der.toString("base64")),
  };
}

function parseEnvelope(raw: unknown): SignedEnvelope {
  const e = raw as Partial<SignedEnvelope> | null;
  if (
    typeof e !== "object" ||
    e === null ||
    e.v !== 1 ||
    typeof e.payload !== "string" ||
    typeof e.sig !== "string" ||
    typeof e.alg !== "string" ||
    !(e.alg in HASH) ||
    !Array.isArray(e.chain) ||
    e.chain.length !== 2 ||
    !e.chain.every((c) => typeof c === "string")
  )
    throw new EnvelopeError("malformed", "not a signed envelope");
  return e as SignedEnvelope;
}

const withinValidity = (cert: X509Certificate, now: number) =>
  new Date(cert.validFrom).getTime() <= now && now <= new Date(cert.validTo).getTime();

/**
 * Verifies an envelope against the pinned root: signing certificate (documentSigning EKU, end
 * entity, in validity) ← issuing CA ← the root whose SHA-256 the device pinned. Returns the payload.
 */
export function openEnvelope(
  raw: unknown,
  root: { pem: string; fingerprint: string },
  now = Date.now(),
): unknown {
  const envelope = parseEnvelope(raw);
  let leaf: X509Certificate;
  let issuer: X509Certificate;
  const anchor = new X509Certificate(root.pem);
  try {
    leaf = new X509Certificate(Buffer.from(envelope.chain[0]!, "base64"));
    issuer = new X509Certificate(Buffer.from(envelope.chain[1]!, "base64"));
  } catch {
    throw new EnvelopeError("malformed", "the certificate chain cannot be parsed");
  }
  // RFC 5280 §6.1: each link is issued by and verifies under the next, ending at the pinned anchor.
  if (sha256Fingerprint(anchor.raw) !== root.fingerprint)
    throw new EnvelopeError("chain-invalid", "the trust anchor is not the pinned root");
  if (!issuer.ca || !issuer.checkIssued(anchor) || !issuer.verify(anchor.publicKey))
    throw new EnvelopeError("chain-invalid", "the issuing CA does not chain to the pinned root");
  if (leaf.ca || !leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey))
    throw new EnvelopeError("chain-invalid", "the signing certificate is not issued by the CA sent");
  // RFC 9336 §3: only a documentSigning certificate may sign configuration.
  if (!(leaf.keyUsage ?? []).includes(DOCUMENT_SIGNING_EKU))
    throw new EnvelopeError("not-a-signing-certificate", "the certificate is not for document signing");
  if (!withinValidity(leaf, now) || !withinValidity(issuer, now))
    throw new EnvelopeError("expired", "a certificate of the chain is outside its validity");
  const bytes = Buffer.from(envelope.payload, "base64");
  const hash = HASH[envelope.alg];
  let ok = false;
  try {
    ok = verify(
      hash,
      bytes,
      { key: leaf.publicKey, dsaEncoding: "der" },
      Buffer.from(envelope.sig, "base64"),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new EnvelopeError("signature-invalid", "the signature does not verify");
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch {
    throw new EnvelopeError("malformed", "the signed payload is not JSON");
  }
}
