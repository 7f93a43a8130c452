import { X509Certificate } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { parseWipeReceipt, verifyWipeReceipt } from "@bulwark/sdk/wire/wipe-receipt";
import { keyAlgorithmOf } from "@bulwark/sdk/x509/algorithms";
import { appendAudit } from "../audit/audit-log.ts";
import { completeWipe, sameWipeId, type WipeDeps } from "./wipe.ts";

export type ReceiptOutcome = { state: "wiped" | "already-wiped"; deviceId: string; wipeId: string };

/** Why a receipt was refused: recorded in the audit log, never told to the caller (one answer for all). */
class Refused extends Error {}

/**
 * A wipe receipt (`@bulwark/sdk/wire/wipe-receipt`) delivered without a client certificate, by a
 * device that no longer holds one: the receipt was signed with the device key before the device
 * erased it. Accepted when it names a certificate on record for the device that is not revoked for
 * any reason but the wipe's own (cessationOfOperation), its signature verifies with that
 * certificate's key, and its wipe id is the one pending for the device (compared in constant time):
 * then the wipe completes as on the MQTT confirmation (`completeWipe`). Idempotent: a receipt of a
 * wipe already completed (recorded in the audit log) is answered `already-wiped`, so a device whose
 * answer was lost stops sending. Anything else — malformed (400), another device's key, another or
 * an unknown wipe, a forged signature (one 403 for all, so the endpoint tells nothing about what
 * exists) — is refused and audited (CRA Annex I Part I (2)(d)).
 */
export async function acceptWipeReceipt(
  deps: WipeDeps,
  body: unknown,
  remoteAddress: string,
): Promise<ReceiptOutcome> {
  const parsed = parseWipeReceipt(body);
  if (!parsed.ok) {
    await auditRefusal(deps, remoteAddress, undefined, `malformed: ${parsed.reason}`, "failure");
    throw new BulwarkError("BW_ERR_VALIDATION", `not a wipe receipt: ${parsed.reason}`);
  }
  const { claim } = parsed;
  try {
    const cert = await deps.store.get<{ der: Uint8Array; status: string; revocation_reason: string | null }>(
      `SELECT der, status, revocation_reason FROM certificates WHERE fingerprint = ? AND device_id = ?`,
      [parsed.receipt.certificate, claim.deviceId],
    );
    if (!cert) throw new Refused("no such certificate of the device");
    const publicKey = new X509Certificate(Buffer.from(cert.der)).publicKey;
    const algorithm = keyAlgorithmOf(publicKey);
    if (!algorithm || !verifyWipeReceipt(parsed, algorithm, publicKey))
      throw new Refused("signature does not verify with the device certificate's key");
    if (cert.status === "revoked" && cert.revocation_reason !== "cessationOfOperation")
      throw new Refused(`certificate revoked (${cert.revocation_reason ?? "unspecified"})`);
    const proof = {
      via: "receipt" as const,
      wipedAt: claim.wipedAt,
      certificate: parsed.receipt.certificate,
      remoteAddress,
    };
    if (await completeWipe(deps, claim.deviceId, claim.wipeId, proof))
      return { state: "wiped", deviceId: claim.deviceId, wipeId: claim.wipeId };
    if (await wipeCompleted(deps, claim.deviceId, claim.wipeId))
      return { state: "already-wiped", deviceId: claim.deviceId, wipeId: claim.wipeId };
    throw new Refused("no such wipe pending or completed for the device");
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    await auditRefusal(deps, remoteAddress, claim.deviceId, error.message, "denied");
    throw new BulwarkError("BW_ERR_WIPE_RECEIPT_INVALID");
  }
}

/** Whether the device's wipe `wipeId` was completed (its `device.wiped` audit entry). */
async function wipeCompleted(deps: WipeDeps, deviceId: string, wipeId: string): Promise<boolean> {
  const rows = await deps.store.all<{ details: string }>(
    `SELECT details FROM audit_log WHERE action = 'device.wiped' AND target_type = 'device' AND target_id = ?`,
    [deviceId],
  );
  let found = false;
  for (const row of rows) {
    const recorded = (JSON.parse(row.details) as { wipeId?: unknown }).wipeId;
    if (typeof recorded === "string" && sameWipeId(recorded, wipeId)) found = true;
  }
  return found;
}

async function auditRefusal(
  deps: WipeDeps,
  remoteAddress: string,
  deviceId: string | undefined,
  reason: string,
  outcome: "failure" | "denied",
): Promise<void> {
  await deps.store.transaction((tx) =>
    appendAudit(tx, {
      actor: { type: "anonymous" },
      action: "device.wipe-receipt",
      ...(deviceId ? { target: { type: "device", id: deviceId } } : {}),
      outcome,
      details: { reason, remoteAddress },
    }),
  );
}
