import { type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { EstClientError, simpleReenroll } from "@bulwark/sdk/est/client";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
import type { EncryptedStore } from "@bulwark/sdk/store";
import { generateKeyPair, type KeyAlgorithm, keyAlgorithmOf } from "@bulwark/sdk/x509/algorithms";
import { buildCsr } from "@bulwark/sdk/x509/csr";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { loadDeviceKey, saveDeviceKey } from "./device-store.ts";
import type { AgentLog } from "./log.ts";
import { readState, statePaths, writeAtomic } from "./state.ts";

export interface RenewOptions {
  stateDir: string;
  /** The agent's encrypted store: the device private key is a record in it (see device-store.ts). */
  store: EncryptedStore;
  /** Rekey: a new private key for the new certificate (RFC 7030 §4.2.2). */
  newKey?: boolean;
  /** Renew once this fraction of the lifetime (from receipt to notAfter) has passed; default 2/3. */
  fraction?: number;
}

export type RenewOutcome =
  | { kind: "renewed"; serial: string; notAfter: string }
  | { kind: "expired" }
  | { kind: "refused"; reason: string; retryAfterMs: number | undefined };

export const DEFAULT_RENEW_FRACTION = 2 / 3;
const RETRY_BASE_MS = 30_000;
const RETRY_CAP_MS = 3_600_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When to renew: a fraction of the lifetime as this device saw it, from when it received the
 * certificate (the file's mtime; the server backdates notBefore for clock skew) to notAfter.
 */
export function renewalDueAt(certPath: string, fraction = DEFAULT_RENEW_FRACTION): number {
  const cert = new X509Certificate(readFileSync(certPath));
  const receivedAt = Math.max(statSync(certPath).mtimeMs, Date.parse(cert.validFrom));
  const notAfter = Date.parse(cert.validTo);
  return receivedAt + (notAfter - receivedAt) * fraction;
}

/** Jittered retry delay (full jitter), never later than the certificate's expiry. */
export function retryDelayMs(attempt: number, expiresInMs: number): number {
  const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.max(1000, Math.min(Math.floor(Math.random() * ceiling), Math.max(1000, expiresInMs / 2)));
}

/** One renewal attempt as ordered steps: check expiry → CSR (same or new key) → simplereenroll → check → save. */
export async function renewOnce(options: RenewOptions, log: AgentLog): Promise<RenewOutcome> {
  const state = readState(options.stateDir);
  const paths = statePaths(options.stateDir);
  const certPem = readFileSync(paths.cert, "utf8");
  const current = new X509Certificate(certPem);
  if (Date.parse(current.validTo) <= Date.now()) {
    // Issue #4: an expired device comes back only through its group's enrolment method.
    log.error("certificate expired; re-enrol with the group's enrolment method", {
      notAfter: current.validTo,
    });
    return { kind: "expired" };
  }
  const currentKey = loadDeviceKey(options.store);
  // In memory only, for the mutual-TLS client authentication of simplereenroll.
  const keyPem = currentKey.export({ type: "pkcs8", format: "pem" }) as string;
  const algorithm = keyAlgorithmOf(currentKey) as KeyAlgorithm;
  const next: { privateKey: KeyObject; publicKey: KeyObject } = options.newKey
    ? generateKeyPair(algorithm)
    : { privateKey: currentKey, publicKey: current.publicKey };
  const csrDer = buildCsr({ subjectDer: commonNameOnly(state.deviceId), algorithm, ...next });
  const caPem = readFileSync(paths.ca, "utf8");
  let leafPem: string | undefined;
  try {
    [leafPem] = await simpleReenroll({
      serverUrl: state.serverUrl,
      caPem,
      csrDer,
      certPem: certPem + readFileSync(paths.chain, "utf8"),
      keyPem,
    });
  } catch (error) {
    const retryAfter = error instanceof EstClientError ? error.retryAfterSeconds : undefined;
    return {
      kind: "refused",
      reason: (error as Error).message,
      retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000,
    };
  }
  const leaf = new X509Certificate(leafPem!);
  const issuer = fromPemAll("CERTIFICATE", caPem)
    .map((der) => new X509Certificate(der))
    .find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  if (!leaf.checkPrivateKey(next.privateKey) || !issuer || leaf.subjectAltName !== current.subjectAltName)
    return {
      kind: "refused",
      reason: "the renewed certificate does not match this device",
      retryAfterMs: undefined,
    };
  if (options.newKey) saveDeviceKey(options.store, next.privateKey);
  writeAtomic(paths.chain, toPem("CERTIFICATE", issuer.raw));
  writeAtomic(paths.cert, leafPem!);
  log.info("certificate renewed", {
    serial: leaf.serialNumber,
    notAfter: leaf.validTo,
    rekey: options.newKey === true,
  });
  return { kind: "renewed", serial: leaf.serialNumber, notAfter: leaf.validTo };
}

/**
 * Keeps the certificate fresh: waits until the renewal point, renews through simplereenroll,
 * and on refusal retries after the server's Retry-After or a jittered backoff. Stops when the
 * certificate has expired. `onRenewed` lets the MQTT client reconnect with the new certificate.
 */
export function startRenewal(options: RenewOptions, log: AgentLog, onRenewed: () => void): { stop(): void } {
  const paths = statePaths(options.stateDir);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let attempt = 0;
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(tick, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    timer.unref();
  };
  const tick = async () => {
    const due = renewalDueAt(paths.cert, options.fraction);
    if (Date.now() < due) return schedule(due - Date.now());
    const outcome = await renewOnce(options, log).catch(
      (error: Error): RenewOutcome => ({ kind: "refused", reason: error.message, retryAfterMs: undefined }),
    );
    switch (outcome.kind) {
      case "renewed":
        attempt = 0;
        onRenewed();
        return schedule(renewalDueAt(paths.cert, options.fraction) - Date.now());
      case "expired":
        return;
      case "refused": {
        const expiresIn = Date.parse(new X509Certificate(readFileSync(paths.cert)).validTo) - Date.now();
        const delay = outcome.retryAfterMs ?? retryDelayMs(attempt++, expiresIn);
        log.warn("renewal refused; retrying", { reason: outcome.reason, inMs: delay });
        return schedule(delay);
      }
    }
  };
  schedule(0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
