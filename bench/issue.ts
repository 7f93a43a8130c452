/**
 * `npm run bench -- issue [count]`: in-process issuance from a CSR — parse and verify the CSR,
 * build the certificate with the lean DER builder, sign it through KeyCustody, store the row
 * (SQLite, WAL, prepared statements, 500 issuances per transaction, one key.use audit entry each).
 * Each batch of 500 runs in phases (parse all, verify all, profile all, build all, sign all, store).
 * The limit, measured in the same run: one P-256 verify + one P-256 sign in node:crypto. It is
 * measured batch by batch, interleaved with the issuance (500 limit operations, then 500
 * issuances, and so on), so that both figures see the same state of a shared, noisy machine.
 * ML-DSA-65 issuance (ML-DSA-65 CSR, ML-DSA-65 CA) is reported alongside.
 */
import { createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair, type KeyAlgorithm } from "../packages/sdk/src/x509/algorithms.ts";
import { buildCsr, parseCsr, verifyCsr } from "../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../packages/sdk/src/x509/name.ts";
import { FileKeyCustody } from "../packages/server/src/custody/file-key-custody.ts";
import { newDeviceId } from "../packages/server/src/fleet/devices.ts";
import {
  bootstrapHierarchy,
  byRole,
  type CertificateAuthority,
  ensurePostQuantumHierarchy,
  listCas,
  PQ_DEVICE_CA_NAME,
} from "../packages/server/src/pki/ca.ts";
import { type IssueRequest, issueCertificates } from "../packages/server/src/pki/issue.ts";
import { deviceExtensions, type PkiUrls, pkiUrls } from "../packages/server/src/pki/profiles.ts";
import { migrate } from "../packages/server/src/store/migrate.ts";
import { migrations } from "../packages/server/src/store/migrations.ts";
import { SqliteStore } from "../packages/server/src/store/sqlite.ts";

const BATCH = 500;
const CHUNK = 100;

function csrs(algorithm: KeyAlgorithm, count: number): Buffer[] {
  return Array.from({ length: count }, () => {
    const keys = generateKeyPair(algorithm);
    return buildCsr({ subjectDer: commonNameOnly("bench"), algorithm, ...keys });
  });
}

interface Rates {
  /** Certificates issued per second. */
  issued: number;
  /** One P-256 verify + one P-256 sign per second, timed between the batches. */
  limit: number;
}

/**
 * Verifies each CSR and issues its certificate, `BATCH` per transaction. Before each batch, as many
 * limit operations are timed on their own; only the batches count toward the issuance rate.
 */
async function issueAll(
  store: SqliteStore,
  custody: FileKeyCustody,
  ca: CertificateAuthority,
  requests: Buffer[],
): Promise<Rates> {
  const urls = pkiUrls(() => "https://bulwark.example:8443");
  const limit = limitOperation();
  let issuing = 0n;
  let limiting = 0n;
  for (let i = 0; i < requests.length; i += BATCH) {
    const size = Math.min(BATCH, requests.length - i);
    const limitStarted = process.hrtime.bigint();
    for (let n = 0; n < size; n++) limit();
    const started = process.hrtime.bigint();
    limiting += started - limitStarted;
    const batch = deviceRequests(requests.slice(i, i + BATCH), ca, urls);
    await store.transaction((tx) => issueCertificates(tx, custody, ca, batch));
    issuing += process.hrtime.bigint() - started;
  }
  const perSecond = (ns: bigint) => requests.length / (Number(ns) / 1e9);
  return { issued: perSecond(issuing), limit: perSecond(limiting) };
}

/**
 * Parses and verifies each CSR and applies the device profile, in chunks of 100 and in phases
 * within a chunk, as issueCertificates builds and signs: parse every CSR, verify every signature,
 * then apply the profile (each phase keeps its own code and tables hot; a chunk's parsed requests
 * die young).
 */
function deviceRequests(ders: Buffer[], ca: CertificateAuthority, urls: PkiUrls): Omit<IssueRequest, "ca">[] {
  const requests: Omit<IssueRequest, "ca">[] = [];
  for (let start = 0; start < ders.length; start += CHUNK) {
    const parsed = ders.slice(start, start + CHUNK).map((der) => parseCsr(der));
    for (const csr of parsed) if (!verifyCsr(csr)) throw new Error("CSR does not verify");
    for (const csr of parsed) {
      const deviceId = newDeviceId();
      requests.push({
        subjectDer: commonNameOnly(deviceId),
        subjectText: `CN=${deviceId}`,
        spki: csr.spki,
        extensions: deviceExtensions(deviceId, csr.spki, ca, urls),
        validityMs: 365 * 86_400_000,
        deviceId,
      });
    }
  }
  return requests;
}

/** The limit: one P-256 signature verification plus one P-256 signature, per certificate. */
function limitOperation(): () => void {
  const keys = generateKeyPair("ecdsa-p256");
  const data = randomBytes(400);
  const signature = sign("sha256", data, keys.privateKey);
  return () => {
    if (!verify("sha256", data, keys.publicKey, signature)) throw new Error("verify failed");
    sign("sha256", data, keys.privateKey);
  };
}

/** For context only: the limit timed in one uninterrupted run, as earlier versions of this bench did. */
function standaloneLimitPerSecond(count: number): number {
  const limit = limitOperation();
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) limit();
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** For context only: the same with each verification on a key parsed from its SPKI, as a CSR's is. */
function freshKeyLimitPerSecond(requests: Buffer[]): number {
  const keys = generateKeyPair("ecdsa-p256");
  const data = randomBytes(400);
  const parsed = requests.map((der) => parseCsr(der));
  const started = process.hrtime.bigint();
  for (const csr of parsed) {
    verify(
      "sha256",
      csr.info,
      createPublicKey({ key: csr.spki, format: "der", type: "spki" }),
      csr.signature,
    );
    sign("sha256", data, keys.privateKey);
  }
  return parsed.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function run(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 20_000);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-issue-"));
  const store = new SqliteStore(join(dir, "bench.db"));
  try {
    await migrate(store, migrations);
    const custody = new FileKeyCustody({ dir: join(dir, "keys"), masterKey: randomBytes(32) });
    await store.transaction(async (tx) => {
      await bootstrapHierarchy(tx, custody);
      await ensurePostQuantumHierarchy(tx, custody);
    });
    const cas = await listCas(store);
    const ecdsaRequests = csrs("ecdsa-p256", count);
    const pqRequests = csrs("ml-dsa-65", Math.max(1000, Math.floor(count / 10)));
    await issueAll(store, custody, byRole(cas, "device"), ecdsaRequests.slice(0, 500)); // warm-up
    const standaloneLimit = standaloneLimitPerSecond(count);
    const freshKeyLimit = freshKeyLimitPerSecond(ecdsaRequests);
    const { issued: ecdsa, limit } = await issueAll(store, custody, byRole(cas, "device"), ecdsaRequests);
    const pqDeviceCa = cas.find((c) => c.name === PQ_DEVICE_CA_NAME)!;
    const { issued: pq } = await issueAll(store, custody, pqDeviceCa, pqRequests);
    process.stderr.write(
      `ECDSA P-256 issuance: ${ecdsa.toFixed(0)}/s (${count} certificates, single thread)\n` +
        `limit (1 P-256 verify + 1 P-256 sign, timed between the batches): ${limit.toFixed(0)}/s\n` +
        `context: the limit timed in one uninterrupted run: ${standaloneLimit.toFixed(0)}/s\n` +
        `context: the same with each verify on a key parsed from its SPKI, as a CSR's is: ${freshKeyLimit.toFixed(0)}/s\n` +
        `ML-DSA-65 issuance (ML-DSA-65 CSR and CA): ${pq.toFixed(0)}/s (${pqRequests.length} certificates)\n`,
    );
    const ratio = ecdsa / limit;
    process.stdout.write(
      `${JSON.stringify({
        bench: "issue",
        metric: "ecdsa_p256_certificates_per_second",
        value: Math.round(ecdsa),
        unit: "certificates/s",
        peer: "p256_verify_plus_sign_per_second",
        peer_value: Math.round(limit),
        ratio: Number(ratio.toFixed(3)),
        goal: ">= 5000/s and >= 0.5 of the limit",
        met: ecdsa >= 5000 && ratio >= 0.5,
        standalone_limit_per_second: Math.round(standaloneLimit),
        ml_dsa_65_certificates_per_second: Math.round(pq),
      })}\n`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
