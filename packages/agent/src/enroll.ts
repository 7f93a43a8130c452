import type { KeyObject } from "node:crypto";
import { X509Certificate } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { fetchPinnedCaCertificates, simpleEnroll } from "@bulwark/sdk/est/client";
import { normaliseFingerprint } from "@bulwark/sdk/fingerprint";
import { httpsRequest } from "@bulwark/sdk/https";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
import { generateKeyPair, type KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import { buildCsr } from "@bulwark/sdk/x509/csr";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { saveDeviceKey } from "./device-store.ts";
import type { AgentLog } from "./log.ts";
import { openMigratedStore } from "./migrate.ts";
import { type AgentState, ensureStateDir, statePaths, writeAtomic } from "./state.ts";
import { resetAgent } from "./wipe.ts";
import { hasWipeReceipt, WIPE_RECEIPT_FILE } from "./wipe-receipt.ts";

export interface EnrolOptions {
  serverUrl: string;
  token: string;
  caFingerprint: string;
  stateDir: string;
  /** A label for the request (e.g. a hardware serial); the server names the device itself. */
  label?: string;
  force?: boolean;
  /** Device key algorithm (default ECDSA P-256; ML-DSA-65 for a post-quantum group). */
  keyAlgorithm?: KeyAlgorithm;
}

export class EnrolError extends Error {}

function deviceIdOf(cert: X509Certificate): string {
  const uri = /URI:urn:uuid:([0-9a-f-]{36})/.exec(cert.subjectAltName ?? "");
  if (!uri) throw new EnrolError("the issued certificate carries no device URI");
  return uri[1]!;
}

/**
 * Enrolment as an ordered list of steps: pin the CA (RFC 7030 §4.1.1), make a key that never
 * leaves the device, request a certificate (RFC 7030 §4.2.1), check it, learn the endpoints, save.
 * Nothing is written before the last step, so a failed enrolment (a wrong fingerprint, a refused
 * token) leaves no half-made state directory behind, and an earlier enrolment as it was.
 */
export async function enroll(options: EnrolOptions, log: AgentLog): Promise<AgentState> {
  const paths = statePaths(options.stateDir);
  // A wipe receipt left to deliver: the next `run` would finish that wipe, erasing this enrolment.
  const wipePending = hasWipeReceipt(options.stateDir);
  if (wipePending && !options.force)
    throw new EnrolError(
      `a wipe of this device is still to be confirmed to the server (${WIPE_RECEIPT_FILE}): run "bulwark-agent run" to deliver it, or use --force to drop it`,
    );
  if (existsSync(paths.state) && !options.force)
    throw new EnrolError(`already enrolled (${paths.state}); use --force to replace`);
  const fingerprint = normaliseFingerprint(options.caFingerprint);
  if (!fingerprint) throw new EnrolError("--ca-fingerprint must be the root CA's SHA-256 (64 hex digits)");

  const caPem = await fetchPinnedCaCertificates(options.serverUrl, fingerprint);
  log.info("CA certificates verified against the pinned fingerprint", {
    certificates: fromPemAll("CERTIFICATE", caPem).length,
  });

  const algorithm = options.keyAlgorithm ?? "ecdsa-p256";
  const keys = generateKeyPair(algorithm);
  const csr = buildCsr({
    subjectDer: commonNameOnly(options.label ?? "bulwark-device"),
    algorithm,
    ...keys,
  });
  const [leafPem] = await simpleEnroll({
    serverUrl: options.serverUrl,
    caPem,
    csrDer: csr,
    username: options.label ?? "device",
    token: options.token,
  });
  if (!leafPem) throw new EnrolError("the server returned no certificate");

  const leaf = new X509Certificate(leafPem);
  if (!leaf.checkPrivateKey(keys.privateKey))
    throw new EnrolError("the issued certificate is not for this device's key");
  const issuers = fromPemAll("CERTIFICATE", caPem).map((der) => new X509Certificate(der));
  const issuer = issuers.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  if (!issuer) throw new EnrolError("the issued certificate does not chain to the pinned CA");
  const deviceId = deviceIdOf(leaf);

  const endpoints = await httpsRequest({
    url: new URL("/api/v1/endpoints", options.serverUrl).href,
    ca: caPem,
  });
  if (endpoints.status !== 200)
    throw new EnrolError(`cannot read the server's endpoints (HTTP ${endpoints.status})`);
  const { mqtt } = JSON.parse(endpoints.body.toString("utf8")) as { mqtt: string };

  const state: AgentState = {
    serverUrl: options.serverUrl,
    mqttUrl: mqtt,
    deviceId,
    rootFingerprint: fingerprint,
    enrolledAt: new Date().toISOString(),
  };
  if (wipePending) {
    // --force: the pending wipe is finished here (the KEK first) and its receipt dropped.
    resetAgent(options.stateDir);
    log.warn("a pending wipe receipt was dropped: the server still holds that wipe as pending");
  }
  save(options.stateDir, log, {
    state,
    privateKey: keys.privateKey,
    leafPem,
    issuerPem: toPem("CERTIFICATE", issuer.raw),
    caPem,
  });
  log.info("enrolled", { deviceId, serial: leaf.serialNumber, notAfter: leaf.validTo });
  return state;
}

/**
 * Writes the enrolment, agent.json last (its presence means "enrolled"). A directory this step
 * created is removed again if any write fails.
 */
function save(
  dir: string,
  log: AgentLog,
  files: { state: AgentState; privateKey: KeyObject; leafPem: string; issuerPem: string; caPem: string },
): void {
  const paths = statePaths(dir);
  const created = !existsSync(dir);
  try {
    ensureStateDir(dir);
    // The private key is a record of the encrypted store, so a wipe can crypto-erase it.
    saveDeviceKey(openMigratedStore(dir, log), files.privateKey);
    writeAtomic(paths.cert, files.leafPem);
    writeAtomic(paths.chain, files.issuerPem);
    writeAtomic(paths.ca, files.caPem);
    writeAtomic(paths.state, `${JSON.stringify(files.state, null, 2)}\n`, 0o600);
  } catch (error) {
    if (created) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
