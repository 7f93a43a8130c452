import { createHash, timingSafeEqual } from "node:crypto";
import { type DeviceCommand, isWipeConfirmation } from "@bulwark/sdk/wire/commands";
import type { Logger } from "pino";
import { appendAudit } from "../audit/audit-log.ts";
import type { RevocationService } from "../pki/revocation.ts";
import type { Store } from "../store/store.ts";
import type { MessageSigner } from "./config-signer.ts";
import type { DeviceChannel } from "./device-channel.ts";

export interface WipeSender {
  send(deviceId: string, wipeId: string): Promise<void>;
}

/** Sends the signed wipe command on the device's `cmd` topic (again on each reconnect until confirmed). */
export function wipeSender(signer: MessageSigner, channel: DeviceChannel): WipeSender {
  return {
    async send(deviceId, wipeId) {
      const command: DeviceCommand = { type: "wipe", deviceId, wipeId, issuedAt: Date.now() };
      await channel.publish(deviceId, "cmd", await signer.seal(command));
    },
  };
}

export interface WipeDeps {
  store: Store;
  channel: DeviceChannel;
  revocation: RevocationService;
  log: Logger;
}

/** How a wipe's completion reached the server: the MQTT confirmation, or the signed receipt over HTTPS. */
export type WipeProof =
  | { via: "mqtt" }
  | { via: "receipt"; wipedAt: string; certificate: string; remoteAddress: string };

/** Equality of two wipe ids in time independent of where they differ (they are capabilities). */
export function sameWipeId(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The device confirmed its crypto-erase on `jobs/{wipeId}/status`: completes the wipe (below).
 * Returns whether the confirmation matched a pending wipe.
 */
export async function confirmWipe(
  deps: WipeDeps,
  deviceId: string,
  jobId: string,
  payload: unknown,
): Promise<boolean> {
  if (!isWipeConfirmation(payload, jobId)) return false;
  return completeWipe(deps, deviceId, jobId, { via: "mqtt" });
}

/**
 * Completes a pending wipe: revoke what is left of the device's certificates, delete its record and
 * its security events, keep the audit trail (one transaction, conditional on the wipe still pending
 * for the device, so the MQTT confirmation and the receipt complete it once between them), then
 * close the session. Returns whether `wipeId` was the device's pending wipe.
 */
export async function completeWipe(
  deps: WipeDeps,
  deviceId: string,
  wipeId: string,
  proof: WipeProof,
): Promise<boolean> {
  const done = await deps.store.transaction(async (tx) => {
    const row = await tx.get<{ status: string; pending_wipe_id: string | null }>(
      `SELECT status, pending_wipe_id FROM devices WHERE id = ?`,
      [deviceId],
    );
    if (row?.status !== "decommissioned" || !row.pending_wipe_id || !sameWipeId(row.pending_wipe_id, wipeId))
      return undefined;
    // The guard against a concurrent completion (the MQTT confirmation and the receipt at once, on two
    // processes): the second waits for this row and then changes nothing.
    const claimed = await tx.run(
      `UPDATE devices SET pending_wipe_id = NULL WHERE id = ? AND pending_wipe_id = ?`,
      [deviceId, row.pending_wipe_id],
    );
    if (claimed.changes !== 1) return undefined;
    // RFC 5280 §5.3.1: cessationOfOperation for a device taken out of service; the revocation
    // service re-signs the CRL in this transaction.
    const revoked = await deps.revocation.revokeIn(tx, { kind: "device", deviceId }, "cessationOfOperation", {
      type: "device",
      id: deviceId,
    });
    const certificatesRevoked = revoked.length;
    const events = await tx.run(`DELETE FROM device_security_events WHERE device_id = ?`, [deviceId]);
    await tx.run(`DELETE FROM devices WHERE id = ?`, [deviceId]);
    await appendAudit(tx, {
      actor: { type: "device", id: deviceId },
      action: "device.wiped",
      target: { type: "device", id: deviceId },
      outcome: "success",
      details: { wipeId, certificatesRevoked, securityEventsDeleted: events.changes, ...proof },
    });
    return revoked;
  });
  if (!done) return false;
  deps.log.info({ deviceId, wipeId, via: proof.via }, "device wiped and deleted");
  deps.channel.disconnect(deviceId);
  deps.revocation.announce(done);
  return true;
}
