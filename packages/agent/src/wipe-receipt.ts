import { type KeyObject, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { httpsRequest } from "@bulwark/sdk/https";
import { writeFileAtomic } from "@bulwark/sdk/store";
import { parseWipeReceipt, signWipeReceipt, type WipeReceipt } from "@bulwark/sdk/wire/wipe-receipt";
import { keyAlgorithmOf } from "@bulwark/sdk/x509/algorithms";
import { backoffMs } from "./backoff.ts";
import type { AgentLog } from "./log.ts";

/**
 * The wipe receipt kept on the device: the only file a wipe leaves in the state directory until the
 * server acknowledges it. It holds no secret — the signed receipt, and what is needed to deliver it
 * with no identity left: the server's URL and the pinned CA bundle its TLS certificate chains to.
 */
export const WIPE_RECEIPT_FILE = "wipe-receipt.json";

export interface PendingWipeReceipt {
  deviceId: string;
  wipeId: string;
  serverUrl: string;
  caPem: string;
  receipt: WipeReceipt;
}

const receiptPath = (dir: string) => join(dir, WIPE_RECEIPT_FILE);

/** Signs the receipt with the device key (before the wipe erases it), naming the certificate it belongs to. */
export function signReceipt(args: {
  deviceId: string;
  wipeId: string;
  serverUrl: string;
  caPem: string;
  privateKey: KeyObject;
  certPem: string;
}): PendingWipeReceipt {
  const algorithm = keyAlgorithmOf(args.privateKey);
  if (!algorithm) throw new Error("the device key's algorithm cannot sign a wipe receipt");
  const receipt = signWipeReceipt(
    { deviceId: args.deviceId, wipeId: args.wipeId, wipedAt: new Date().toISOString() },
    {
      algorithm,
      privateKey: args.privateKey,
      certificateFingerprint: sha256Fingerprint(new X509Certificate(args.certPem).raw),
    },
  );
  return {
    deviceId: args.deviceId,
    wipeId: args.wipeId,
    serverUrl: args.serverUrl,
    caPem: args.caPem,
    receipt,
  };
}

/** Written through a temporary file, fsync, rename and fsync of the directory: the wipe's commit point. */
export function writeWipeReceipt(dir: string, pending: PendingWipeReceipt): void {
  writeFileAtomic(receiptPath(dir), Buffer.from(JSON.stringify(pending), "utf8"));
}

export const hasWipeReceipt = (dir: string): boolean => existsSync(receiptPath(dir));

export function removeWipeReceipt(dir: string): void {
  rmSync(receiptPath(dir), { force: true });
}

/** The kept receipt, or why it cannot be delivered (damaged: the wipe still stands). */
export function readWipeReceipt(
  dir: string,
): { ok: true; pending: PendingWipeReceipt } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(receiptPath(dir), "utf8"));
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const p = value as Partial<PendingWipeReceipt>;
  if (
    typeof p !== "object" ||
    p === null ||
    typeof p.serverUrl !== "string" ||
    typeof p.caPem !== "string" ||
    typeof p.deviceId !== "string" ||
    typeof p.wipeId !== "string" ||
    !parseWipeReceipt(p.receipt).ok
  )
    return { ok: false, reason: "not a wipe receipt" };
  return { ok: true, pending: p as PendingWipeReceipt };
}

export type DeliveryOutcome = "acknowledged" | "refused" | "stopped";

/**
 * Delivers the receipt to `POST /api/v1/wipe-receipts` over HTTPS (TLS 1.3, the pinned CA bundle,
 * no client certificate: the device has none left) until the server answers: 200 (the wipe
 * completed now or before) removes the receipt; a refusal (4xx other than 408 and 429: the server
 * has no such wipe, or the receipt does not verify) is final, logged with the server's reason, and
 * removes it too, since sending it again cannot change the answer; anything else (no answer, 5xx,
 * 429) is tried again after a jittered, growing delay (`backoffMs`, up to 5 min), until `signal`.
 */
export async function deliverWipeReceipt(
  dir: string,
  pending: PendingWipeReceipt,
  log: AgentLog,
  options: { signal?: AbortSignal; delayMs?: (attempt: number) => number } = {},
): Promise<DeliveryOutcome> {
  const url = new URL("/api/v1/wipe-receipts", pending.serverUrl).href;
  const delay = options.delayMs ?? backoffMs;
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) return "stopped";
    try {
      const res = await httpsRequest({
        url,
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(pending.receipt),
        ca: pending.caPem,
        timeoutMs: 30_000,
        maxResponseBytes: 64 * 1024,
      });
      const answer = parseAnswer(res.body);
      if (res.status === 200) {
        removeWipeReceipt(dir);
        log.info("wipe receipt acknowledged", { wipeId: pending.wipeId, state: answer.state });
        return "acknowledged";
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        removeWipeReceipt(dir);
        log.error("wipe receipt refused by the server; dropped", {
          wipeId: pending.wipeId,
          status: res.status,
          code: answer.code,
          detail: answer.detail,
        });
        return "refused";
      }
      log.warn("wipe receipt not accepted yet; trying again", { wipeId: pending.wipeId, status: res.status });
    } catch (error) {
      log.warn("wipe receipt not delivered; trying again", {
        wipeId: pending.wipeId,
        reason: (error as Error).message,
      });
    }
    try {
      await sleep(delay(attempt), undefined, { signal: options.signal });
    } catch {
      return "stopped";
    }
  }
}

function parseAnswer(body: Buffer): { state?: string; code?: string; detail?: string } {
  try {
    const v = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    const text = (k: string) => (typeof v[k] === "string" ? (v[k] as string).slice(0, 200) : undefined);
    return { state: text("state"), code: text("code"), detail: text("detail") };
  } catch {
    return {};
  }
}
