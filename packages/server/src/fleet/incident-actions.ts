import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { RevocationService, RevokedCertificate } from "../pki/revocation.ts";
import type { Store } from "../store/store.ts";
import type { DeviceChannel } from "./device-channel.ts";
import { type Device, type DeviceRow, type DeviceStatus, deviceById, deviceRowById } from "./devices.ts";
import { type DeviceAction, mayTransition, targetStatus } from "./lifecycle.ts";
import type { WipeSender } from "./wipe.ts";

export interface IncidentDeps {
  store: Store;
  channel: DeviceChannel;
  wipe: WipeSender;
  /** The PKI's revocation service: certificates are revoked only through it (it re-signs the CRL). */
  revocation: RevocationService;
}

export interface ActionRequest {
  deviceId: string;
  action: DeviceAction;
  actor: AuditEntry["actor"];
  reason?: string;
}

export interface ActionResult {
  device: Device;
  from: DeviceStatus;
  sessionsAffected: number;
  certificatesRevoked: number;
}

async function loadForAction(store: Store, request: ActionRequest): Promise<DeviceRow> {
  const row = await deviceRowById(store, request.deviceId);
  if (!row) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
  const to = targetStatus(request.action);
  if (!mayTransition(row.status, to))
    throw new BulwarkError("BW_ERR_DEVICE_TRANSITION", `a ${row.status} device cannot become ${to}`);
  return row;
}

/** The status change, its side records and its audit entry: one transaction. */
async function commitAction(
  deps: IncidentDeps,
  request: ActionRequest,
  from: DeviceStatus,
): Promise<{ revoked: RevokedCertificate[]; wipeId: string | null }> {
  const to = targetStatus(request.action);
  return deps.store.transaction(async (tx) => {
    const wipeId = request.action === "decommission" ? randomUUID() : null;
    // Conditional on the status we checked, so two concurrent actions cannot both apply.
    const moved = await tx.run(
      `UPDATE devices SET status = ?, status_reason = ?, status_changed_at = ?, updated_at = ?, pending_wipe_id = ?
       WHERE id = ? AND status = ?`,
      [to, request.reason ?? null, Date.now(), Date.now(), wipeId, request.deviceId, from],
    );
    if (moved.changes !== 1)
      throw new BulwarkError("BW_ERR_CONFLICT", "the device changed status concurrently; retry");
    // Compromise: every key the device held is presumed known to an attacker (RFC 5280 §5.3.1
    // keyCompromise, also on its superseded certificates); the CRL is re-signed in this transaction.
    const revoked =
      request.action === "compromise"
        ? await deps.revocation.revokeIn(
            tx,
            { kind: "device", deviceId: request.deviceId },
            "keyCompromise",
            request.actor,
          )
        : [];
    const certificatesRevoked = revoked.length;
    await appendAudit(tx, {
      actor: request.actor,
      action: `device.${request.action}`,
      target: { type: "device", id: request.deviceId },
      outcome: "success",
      details: { from, to, reason: request.reason ?? null, certificatesRevoked, wipeId },
    });
    return { revoked, wipeId };
  });
}

/**
 * An incident or lifecycle action on a device, in order: load and check the transition, commit
 * the status with its audit entry, then make live sessions follow (close, restrict, lift, wipe).
 */
export async function applyDeviceAction(deps: IncidentDeps, request: ActionRequest): Promise<ActionResult> {
  const row = await loadForAction(deps.store, request);
  const { revoked, wipeId } = await commitAction(deps, request, row.status);
  const to = targetStatus(request.action);
  const sessionsAffected = deps.channel.applyStatus(request.deviceId, to);
  deps.revocation.announce(revoked);
  if (wipeId) await deps.wipe.send(request.deviceId, wipeId);
  const device = await deviceById(deps.store, request.deviceId);
  if (!device) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
  return { device, from: row.status, sessionsAffected, certificatesRevoked: revoked.length };
}
