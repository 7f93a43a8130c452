import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { isTransferStatus, type TransferCommand, type TransferStatus } from "@bulwark/sdk/wire/transfer";
import type { Logger } from "pino";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import type { BrokerHooks } from "./broker-hooks.ts";
import type { MessageSigner } from "./config-signer.ts";
import type { DeviceChannel } from "./device-channel.ts";

/**
 * Secure transfer of a device's data to its replacement (issue #17.6), driven from the server:
 * `POST /api/v1/devices/{old}/transfer {to}` starts it, the devices' reports on
 * `jobs/{transferId}/status` move it along (`@bulwark/sdk/wire/transfer` has the protocol). The
 * server relays sealed, signed data it cannot read; it keeps each transfer's state for the
 * operator and audits its start and end.
 */

export type TransferState = "requested" | "key-received" | "exported" | "imported" | "failed";

export interface TransferView {
  id: string;
  sourceDeviceId: string;
  targetDeviceId: string;
  state: TransferState;
  reason: string | null;
  records: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface TransferDeps {
  store: Store;
  signer: MessageSigner;
  channel: DeviceChannel;
  log: Logger;
}

interface Row {
  id: string;
  source_device_id: string;
  target_device_id: string;
  state: TransferState;
  reason: string | null;
  records: number | null;
  created_at: number;
  updated_at: number;
}

const view = (r: Row): TransferView => ({
  id: r.id,
  sourceDeviceId: r.source_device_id,
  targetDeviceId: r.target_device_id,
  state: r.state,
  reason: r.reason,
  records: r.records === null ? null : Number(r.records),
  createdAt: new Date(Number(r.created_at)).toISOString(),
  updatedAt: new Date(Number(r.updated_at)).toISOString(),
});

/** Devices whose data may move: connected now (the commands are not queued), and not cut off. */
const MAY_TRANSFER = ["active", "quarantined"];

export async function startTransfer(
  deps: TransferDeps,
  request: { sourceId: string; targetId: string; actor: AuditEntry["actor"] },
): Promise<TransferView> {
  if (request.sourceId === request.targetId)
    throw new BulwarkError("BW_ERR_VALIDATION", "a device cannot transfer its data to itself");
  const id = randomUUID();
  const now = Date.now();
  const row = await deps.store.transaction(async (tx) => {
    for (const deviceId of [request.sourceId, request.targetId]) {
      const device = await tx.get<{ status: string; online: number }>(
        `SELECT status, online FROM devices WHERE id = ?`,
        [deviceId],
      );
      if (!device) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND", `device ${deviceId} does not exist`);
      if (!MAY_TRANSFER.includes(device.status))
        throw new BulwarkError("BW_ERR_CONFLICT", `device ${deviceId} is ${device.status}`);
      if (Number(device.online) !== 1)
        throw new BulwarkError(
          "BW_ERR_CONFLICT",
          `device ${deviceId} is offline: both devices must be connected`,
        );
    }
    await tx.run(
      `INSERT INTO device_transfers (id, source_device_id, target_device_id, state, created_at, updated_at)
        VALUES (?, ?, ?, 'requested', ?, ?)`,
      [id, request.sourceId, request.targetId, now, now],
    );
    await appendAudit(tx, {
      actor: request.actor,
      action: "device.transfer.requested",
      target: { type: "device", id: request.sourceId },
      outcome: "success",
      details: { transferId: id, to: request.targetId },
    });
    return (await tx.get<Row>(`SELECT * FROM device_transfers WHERE id = ?`, [id]))!;
  });
  await send(deps, request.targetId, {
    type: "transfer-prepare",
    deviceId: request.targetId,
    transferId: id,
    sourceId: request.sourceId,
    issuedAt: Date.now(),
  });
  return view(row);
}

export async function getTransfer(store: Store, id: string): Promise<TransferView> {
  const row = await store.get<Row>(`SELECT * FROM device_transfers WHERE id = ?`, [id]);
  if (!row) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such transfer");
  return view(row);
}

async function send(deps: TransferDeps, deviceId: string, command: TransferCommand): Promise<void> {
  await deps.channel.publish(deviceId, "cmd", await deps.signer.seal(command));
}

/** A report on `jobs/{jobId}/status`: true if it belonged to a transfer (then it is handled here). */
export async function transferReport(
  deps: TransferDeps,
  deviceId: string,
  jobId: string,
  payload: unknown,
): Promise<boolean> {
  const row = await deps.store.get<Row>(`SELECT * FROM device_transfers WHERE id = ?`, [jobId]);
  if (!row) return false;
  if (!isTransferStatus(payload, jobId)) {
    deps.log.warn({ deviceId, transferId: jobId }, "malformed transfer report dropped");
    return true;
  }
  const status: TransferStatus = payload;
  const fromTarget = deviceId === row.target_device_id;
  const fromSource = deviceId === row.source_device_id;
  if (
    status.state === "transfer-failed" &&
    (fromTarget || fromSource) &&
    row.state !== "imported" &&
    row.state !== "failed"
  )
    return finish(deps, row, "failed", { reason: `${fromSource ? "source" : "target"}: ${status.reason}` });
  // A step arrives again when its PUBACK was lost (MQTT 3.1.1 §4.3.2; the agent keeps it until then):
  // the transfer has moved past it and it is dropped below, or, handled at the same time as the
  // first on another connection, only the one that moves the row sends the next command.
  if (status.state === "transfer-key" && fromTarget && row.state === "requested") {
    if (!(await advance(deps, row, "key-received"))) return true;
    await send(deps, row.source_device_id, {
      type: "transfer-export",
      deviceId: row.source_device_id,
      transferId: row.id,
      recipientId: row.target_device_id,
      recipientKey: status.publicKey,
      issuedAt: Date.now(),
    });
    return true;
  }
  if (status.state === "transfer-exported" && fromSource && row.state === "key-received") {
    if (!(await advance(deps, row, "exported"))) return true;
    await send(deps, row.target_device_id, {
      type: "transfer-import",
      deviceId: row.target_device_id,
      transferId: row.id,
      sourceId: row.source_device_id,
      envelope: status.envelope,
      signature: status.signature,
      algorithm: status.algorithm,
      sourceChain: status.chain,
      issuedAt: Date.now(),
    });
    return true;
  }
  if (status.state === "transfer-imported" && fromTarget && row.state === "exported")
    return finish(deps, row, "imported", { records: status.records });
  deps.log.warn(
    { deviceId, transferId: jobId, state: row.state, report: status.state },
    "out-of-order transfer report dropped",
  );
  return true;
}

/** Moves the transfer on from the state it was read in; false when something else moved it first. */
async function advance(deps: TransferDeps, row: Row, state: TransferState): Promise<boolean> {
  const moved = await deps.store.run(
    `UPDATE device_transfers SET state = ?, updated_at = ? WHERE id = ? AND state = ?`,
    [state, Date.now(), row.id, row.state],
  );
  return moved.changes === 1;
}

async function finish(
  deps: TransferDeps,
  row: Row,
  state: "imported" | "failed",
  outcome: { records?: number; reason?: string },
): Promise<true> {
  const moved = await deps.store.transaction(async (tx) => {
    // From the state it was read in only: a repeat handled at the same time finishes nothing twice.
    const update = await tx.run(
      `UPDATE device_transfers SET state = ?, reason = ?, records = ?, updated_at = ? WHERE id = ? AND state = ?`,
      [state, outcome.reason ?? null, outcome.records ?? null, Date.now(), row.id, row.state],
    );
    if (update.changes !== 1) return false;
    await appendAudit(tx, {
      actor: { type: "device", id: state === "imported" ? row.target_device_id : row.source_device_id },
      action: state === "imported" ? "device.transfer.completed" : "device.transfer.failed",
      target: { type: "device", id: row.source_device_id },
      outcome: state === "imported" ? "success" : "failure",
      details: { transferId: row.id, to: row.target_device_id, ...outcome },
    });
    return true;
  });
  if (moved) deps.log.info({ transferId: row.id, state, ...outcome }, "device transfer finished");
  return true;
}

/** The broker's hooks with transfer reports taken first; every other job status goes on as before. */
export function withTransfers(hooks: BrokerHooks, deps: TransferDeps): BrokerHooks {
  return {
    ...hooks,
    async jobStatus(deviceId, jobId, payload) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString("utf8"));
      } catch {
        return hooks.jobStatus(deviceId, jobId, payload);
      }
      // Only a report that names itself a transfer's is looked up here: every update job report
      // of a rollout passes through, and a lookup each was 2.5 % of the server's time at 2,000
      // devices (issue #15 item 9). One that names a transfer but is malformed is dropped there.
      const claimsTransfer =
        typeof parsed === "object" &&
        parsed !== null &&
        (parsed as { transferId?: unknown }).transferId === jobId;
      if (claimsTransfer && (await transferReport(deps, deviceId, jobId, parsed))) return;
      return hooks.jobStatus(deviceId, jobId, payload);
    },
  };
}
