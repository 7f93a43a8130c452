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

/**
 * The device confirmed its crypto-erase on `jobs/{wipeId}/status`: revoke what is left of its
 * certificates, delete its record and its security events, keep the audit trail (one transaction),
 * then close the session. Returns whether the confirmation matched a pending wipe.
 */
export async function confirmWipe(
  deps: { store: Store; channel: DeviceChannel; revocation: RevocationService; log: Logger },
  deviceId: string,
  jobId: string,
  payload: unknown,
): Promise<boolean> {
  if (!isWipeConfirmation(payload, jobId)) return false;
  const done = await deps.store.transaction(async (tx) => {
    const row = await tx.get<{ status: string; pending_wipe_id: string | null }>(
      `SELECT status, pending_wipe_id FROM devices WHERE id = ?`,
      [deviceId],
    );
    if (row?.status !== "decommissioned" || row.pending_wipe_id !== jobId) return undefined;
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
      details: { wipeId: jobId, certificatesRevoked, securityEventsDeleted: events.changes },
    });
    return revoked;
  });
  if (!done) return false;
  deps.log.info({ deviceId, wipeId: jobId }, "device wiped and deleted");
  deps.channel.disconnect(deviceId);
  deps.revocation.announce(done);
  return true;
}
