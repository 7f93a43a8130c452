import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import {
  type ArtifactDigest,
  type DetachedSignature,
  HYBRID_ALGORITHMS,
  type HybridAlgorithm,
  publicKeysPem,
  type SignatureEntry,
  signedMessage,
  spkiSha256,
} from "@bulwark/sdk/signing/detached";
import { spkiOf } from "@bulwark/sdk/x509/algorithms";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";

/**
 * Release signing with hybrid keys (CRA Annex I Part I (2)(f) integrity of software): an ECDSA P-256
 * and an ML-DSA-65 key generated in and never leaving `KeyCustody`; each signature document carries
 * both signatures over the same message (docs/signatures.md).
 */
export interface SigningKey {
  id: string;
  label: string;
  keys: Record<HybridAlgorithm, { custodyKeyId: string; publicKeySha256: string }>;
  publicKeyPem: string;
  createdAt: number;
}

interface SigningKeyRow {
  id: string;
  label: string;
  ecdsa_key_id: string;
  mldsa_key_id: string;
  public_pem: string;
  created_at: number;
}

export async function createSigningKey(
  store: Store,
  custody: KeyCustody,
  label: string,
  actor: AuditEntry["actor"],
): Promise<SigningKey> {
  if (await store.get(`SELECT id FROM signing_keys WHERE label = ?`, [label]))
    throw new BulwarkError("BW_ERR_CONFLICT", `signing key ${label} already exists`);
  const ecdsa = await custody.generate(`release-signing:${label}:ecdsa-p256`, "ecdsa-p256");
  const mldsa = await custody.generate(`release-signing:${label}:ml-dsa-65`, "ml-dsa-65");
  const id = randomUUID();
  const pem = publicKeysPem([spkiOf(ecdsa.publicKey), spkiOf(mldsa.publicKey)]);
  const now = Date.now();
  await store.transaction(async (tx) => {
    await tx.run(
      `INSERT INTO signing_keys (id, label, ecdsa_key_id, mldsa_key_id, public_pem, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [id, label, ecdsa.id, mldsa.id, pem, now],
    );
    await appendAudit(tx, {
      actor,
      action: "signing-key.create",
      target: { type: "signing-key", id },
      outcome: "success",
      details: { label, ecdsaKeyId: ecdsa.id, mldsaKeyId: mldsa.id },
    });
  });
  return toSigningKey({
    id,
    label,
    ecdsa_key_id: ecdsa.id,
    mldsa_key_id: mldsa.id,
    public_pem: pem,
    created_at: now,
  });
}

function toSigningKey(r: SigningKeyRow): SigningKey {
  const [ecdsaSpki, mldsaSpki] = publicSpkis(r.public_pem);
  return {
    id: r.id,
    label: r.label,
    keys: {
      "ecdsa-p256": { custodyKeyId: r.ecdsa_key_id, publicKeySha256: spkiSha256(ecdsaSpki) },
      "ml-dsa-65": { custodyKeyId: r.mldsa_key_id, publicKeySha256: spkiSha256(mldsaSpki) },
    },
    publicKeyPem: r.public_pem,
    createdAt: Number(r.created_at),
  };
}

function publicSpkis(pem: string): [Buffer, Buffer] {
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[^-]+-----END PUBLIC KEY-----/g) ?? [];
  const der = blocks.map((b) => Buffer.from(b.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"));
  return [der[0]!, der[1]!];
}

export async function signingKeyById(store: Store, id: string): Promise<SigningKey | undefined> {
  const row = await store.get<SigningKeyRow>(`SELECT * FROM signing_keys WHERE id = ?`, [id]);
  return row && toSigningKey(row);
}

export async function listSigningKeys(store: Store): Promise<SigningKey[]> {
  return (await store.all<SigningKeyRow>(`SELECT * FROM signing_keys ORDER BY created_at`)).map(toSigningKey);
}

/** Signs an artifact digest with both custody keys; the signature and its audit entry commit together. */
export async function signArtifact(
  store: Store,
  custody: KeyCustody,
  keyId: string,
  artifact: ArtifactDigest,
  actor: AuditEntry["actor"],
): Promise<DetachedSignature> {
  const key = await signingKeyById(store, keyId);
  if (!key) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such signing key");
  const signedAt = new Date().toISOString();
  const digests = {
    "ecdsa-p256": key.keys["ecdsa-p256"].publicKeySha256,
    "ml-dsa-65": key.keys["ml-dsa-65"].publicKeySha256,
  };
  const message = signedMessage(artifact, signedAt, key.id, digests);
  const signatures: SignatureEntry[] = [];
  for (const algorithm of HYBRID_ALGORITHMS) {
    const signer = await custody.signer(key.keys[algorithm].custodyKeyId);
    signatures.push({
      algorithm,
      keyId: signer.keyId,
      publicKeySha256: digests[algorithm],
      value: signer.sign(message).toString("base64"),
    });
  }
  const doc: DetachedSignature = { bulwarkSignature: 1, artifact, signedAt, signingKey: key.id, signatures };
  await store.transaction(async (tx) => {
    const id = randomUUID();
    await tx.run(
      `INSERT INTO release_signatures (id, signing_key_id, artifact_name, sha256, sha512, size, signature, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        id,
        key.id,
        artifact.name,
        artifact.sha256,
        artifact.sha512,
        artifact.size,
        JSON.stringify(doc),
        Date.now(),
      ],
    );
    await appendAudit(tx, {
      actor,
      action: "release.sign",
      target: { type: "signing-key", id: key.id },
      outcome: "success",
      details: { signature: id, artifact: artifact.name, sha256: artifact.sha256, size: artifact.size },
    });
  });
  return doc;
}
