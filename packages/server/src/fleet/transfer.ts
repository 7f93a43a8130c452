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
 *
 * Each state waits on one server → device command (`pending_command`, migration 975): stored with
 * the state it belongs to, in the same UPDATE, sent at once and again each time that device
 * subscribes to `cmd` (MQTT keeps nothing for a device on a clean session, and a publish to a device
 * that is away reaches nobody) until its step moves the transfer on. The agent answers a repeated
 * command with the same step (`packages/agent/src/transfer.ts`) and the server moves a transfer
 * forward only, so a repeat changes nothing. A device that never answers fails the transfer at
 * `deadline_at` (`expireTransfers`, audited), the deadline counted from the command's first sending.
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
  /** The device the transfer waits on and the command it was sent (again on each of its subscribes); null once ended. */
  waitingFor: { deviceId: string; role: "source" | "target"; command: TransferCommand["type"] } | null;
  /** When the transfer fails if that device has not answered; null once ended. */
  deadline: string | null;
}

export interface TransferDeps {
  store: Store;
  signer: MessageSigner;
  channel: DeviceChannel;
  log: Logger;
  /** How long a device has to answer the command it is sent before the transfer fails. */
  deadlineMs: number;
}

/** A command as stored: everything but `issuedAt`, stamped at each sending. */
type PendingCommand = DistributiveOmit<TransferCommand, "issuedAt">;
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

interface Row {
  id: string;
  source_device_id: string;
  target_device_id: string;
  state: TransferState;
  reason: string | null;
  records: number | null;
  created_at: number;
  updated_at: number;
  pending_device_id: string | null;
  pending_command: string | null;
  deadline_at: number | null;
}

const pendingOf = (r: Row): PendingCommand | null =>
  r.pending_command === null ? null : (JSON.parse(r.pending_command) as PendingCommand);

const view = (r: Row): TransferView => ({
  id: r.id,
  sourceDeviceId: r.source_device_id,
  targetDeviceId: r.target_device_id,
  state: r.state,
  reason: r.reason,
  records: r.records === null ? null : Number(r.records),
  createdAt: new Date(Number(r.created_at)).toISOString(),
  updatedAt: new Date(Number(r.updated_at)).toISOString(),
  waitingFor:
    r.pending_device_id === null
      ? null
      : {
          deviceId: r.pending_device_id,
          role: r.pending_device_id === r.source_device_id ? "source" : "target",
          command: pendingOf(r)!.type,
        },
  deadline: r.deadline_at === null ? null : new Date(Number(r.deadline_at)).toISOString(),
});

/**
 * Devices whose data may move: not cut off. They need not be connected: each command waits for
 * its device's next subscribe, until the deadline.
 */
const MAY_TRANSFER = ["active", "quarantined"];

/**
 * How many deadlines the recipient keeps its one-time key for a transfer that has not imported. Each
 * of the three steps must be answered within one deadline of the previous one, so a transfer has
 * ended (imported, or failed) three deadlines after it started; the fourth is margin for the
 * deadline check's own period and for the device's clock.
 */
export const KEY_LIFETIME_DEADLINES = 4;

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
      const device = await tx.get<{ status: string }>(`SELECT status FROM devices WHERE id = ?`, [deviceId]);
      if (!device) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND", `device ${deviceId} does not exist`);
      if (!MAY_TRANSFER.includes(device.status))
        throw new BulwarkError("BW_ERR_CONFLICT", `device ${deviceId} is ${device.status}`);
    }
    const prepare: PendingCommand = {
      type: "transfer-prepare",
      deviceId: request.targetId,
      transferId: id,
      sourceId: request.sourceId,
      keyExpiresAt: now + KEY_LIFETIME_DEADLINES * deps.deadlineMs,
    };
    await tx.run(
      `INSERT INTO device_transfers (id, source_device_id, target_device_id, state, created_at, updated_at,
          pending_device_id, pending_command, deadline_at)
        VALUES (?, ?, ?, 'requested', ?, ?, ?, ?, ?)`,
      [
        id,
        request.sourceId,
        request.targetId,
        now,
        now,
        request.targetId,
        JSON.stringify(prepare),
        now + deps.deadlineMs,
      ],
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
  // After the commit: a device that subscribes in between finds the row and is sent it too (twice is harmless).
  await sendPending(deps, row);
  return view(row);
}

export async function getTransfer(store: Store, id: string): Promise<TransferView> {
  const row = await store.get<Row>(`SELECT * FROM device_transfers WHERE id = ?`, [id]);
  if (!row) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such transfer");
  return view(row);
}

/** Sends the command the transfer waits on, freshly signed; to a device that is away it reaches nobody. */
async function sendPending(deps: TransferDeps, row: Row): Promise<void> {
  const pending = pendingOf(row);
  if (!pending || row.pending_device_id === null) return;
  const command = { ...pending, issuedAt: Date.now() } as TransferCommand;
  await deps.channel.publish(row.pending_device_id, "cmd", await deps.signer.seal(command));
}

/**
 * The device subscribed to `cmd`: the command of each open transfer that waits on it goes again
 * (it was sent while the device was away, or lost with its connection, or it is in flight: the
 * agent answers a repeat with the same step).
 */
export async function resendTransferCommands(deps: TransferDeps, deviceId: string): Promise<number> {
  const rows = await deps.store.all<Row>(
    `SELECT * FROM device_transfers WHERE pending_device_id = ? AND state NOT IN ('imported', 'failed')`,
    [deviceId],
  );
  for (const row of rows) {
    await sendPending(deps, row);
    deps.log.info(
      { deviceId, transferId: row.id, command: pendingOf(row)?.type },
      "transfer command sent again on subscribe",
    );
  }
  return rows.length;
}

/**
 * Fails every open transfer whose device has not answered its command by the deadline, with the
 * reason and an audit entry (once: `finish` moves only from the state read). Returns how many.
 */
export async function expireTransfers(deps: TransferDeps, now = Date.now()): Promise<number> {
  const rows = await deps.store.all<Row>(
    `SELECT * FROM device_transfers WHERE deadline_at <= ? AND state NOT IN ('imported', 'failed')`,
    [now],
  );
  let failed = 0;
  for (const row of rows) {
    const pending = pendingOf(row);
    const role = row.pending_device_id === row.source_device_id ? "source" : "target";
    // The deadline it was given (set with `updated_at`), not this process's: a restart may change it.
    const seconds = Math.round((Number(row.deadline_at) - Number(row.updated_at)) / 1000);
    const reason = `deadline: the ${role} device did not answer ${pending?.type ?? "its command"} within ${seconds} s`;
    if (await finish(deps, row, "failed", { reason }, { type: "system" })) failed++;
  }
  return failed;
}

/** Runs `expireTransfers` every `everyMs` until stopped (each process may: a transfer fails once). */
export function transferDeadlines(deps: TransferDeps, everyMs: number): { stop(): void } {
  const timer = setInterval(() => {
    expireTransfers(deps).catch((err) => deps.log.error({ err }, "transfer deadline check failed"));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
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
  // A failure ends the transfer only from the device it waits on: a device answering a repeated
  // command late (it was sent again on a reconnect) may refuse what the transfer has moved past
  // (`this transfer was already imported`), and that changes nothing. Transfers from before
  // migration 975 have no pending device: either device's failure ends them, as it did.
  const awaited =
    row.pending_device_id === null ? fromTarget || fromSource : deviceId === row.pending_device_id;
  if (status.state === "transfer-failed" && awaited && row.state !== "imported" && row.state !== "failed") {
    await finish(deps, row, "failed", { reason: `${fromSource ? "source" : "target"}: ${status.reason}` });
    return true;
  }
  // A step arrives again when its PUBACK was lost (MQTT 3.1.1 §4.3.2; the agent keeps it until then):
  // the transfer has moved past it and it is dropped below, or, handled at the same time as the
  // first on another connection, only the one that moves the row sends the next command.
  if (status.state === "transfer-key" && fromTarget && row.state === "requested") {
    const moved = await advance(deps, row, "key-received", {
      type: "transfer-export",
      deviceId: row.source_device_id,
      transferId: row.id,
      recipientId: row.target_device_id,
      recipientKey: status.publicKey,
    });
    if (moved) await sendPending(deps, moved);
    return true;
  }
  if (status.state === "transfer-exported" && fromSource && row.state === "key-received") {
    const moved = await advance(deps, row, "exported", {
      type: "transfer-import",
      deviceId: row.target_device_id,
      transferId: row.id,
      sourceId: row.source_device_id,
      envelope: status.envelope,
      signature: status.signature,
      algorithm: status.algorithm,
      sourceChain: status.chain,
    });
    if (moved) await sendPending(deps, moved);
    return true;
  }
  if (status.state === "transfer-imported" && fromTarget && row.state === "exported") {
    await finish(deps, row, "imported", { records: status.records });
    return true;
  }
  deps.log.warn(
    { deviceId, transferId: jobId, state: row.state, report: status.state },
    "out-of-order transfer report dropped",
  );
  return true;
}

/**
 * Moves the transfer on from the state it was read in, with the command the new state waits on
 * and its deadline; the row as moved, or undefined when something else moved it first.
 */
async function advance(
  deps: TransferDeps,
  row: Row,
  state: TransferState,
  next: PendingCommand,
): Promise<Row | undefined> {
  const now = Date.now();
  const moved = await deps.store.run(
    `UPDATE device_transfers SET state = ?, updated_at = ?, pending_device_id = ?, pending_command = ?, deadline_at = ?
      WHERE id = ? AND state = ?`,
    [state, now, next.deviceId, JSON.stringify(next), now + deps.deadlineMs, row.id, row.state],
  );
  if (moved.changes !== 1) return undefined;
  return {
    ...row,
    state,
    updated_at: now,
    pending_device_id: next.deviceId,
    pending_command: JSON.stringify(next),
    deadline_at: now + deps.deadlineMs,
  };
}

/** Ends the transfer from the state it was read in; false when something else moved it first. */
async function finish(
  deps: TransferDeps,
  row: Row,
  state: "imported" | "failed",
  outcome: { records?: number; reason?: string },
  actor?: AuditEntry["actor"],
): Promise<boolean> {
  const moved = await deps.store.transaction(async (tx) => {
    // From the state it was read in only: a repeat handled at the same time finishes nothing twice.
    const update = await tx.run(
      `UPDATE device_transfers SET state = ?, reason = ?, records = ?, updated_at = ?,
          pending_device_id = NULL, pending_command = NULL, deadline_at = NULL
        WHERE id = ? AND state = ?`,
      [state, outcome.reason ?? null, outcome.records ?? null, Date.now(), row.id, row.state],
    );
    if (update.changes !== 1) return false;
    await appendAudit(tx, {
      actor: actor ?? {
        type: "device",
        id: state === "imported" ? row.target_device_id : row.source_device_id,
      },
      action: state === "imported" ? "device.transfer.completed" : "device.transfer.failed",
      target: { type: "device", id: row.source_device_id },
      outcome: state === "imported" ? "success" : "failure",
      details: { transferId: row.id, to: row.target_device_id, ...outcome },
    });
    return true;
  });
  if (moved) deps.log.info({ transferId: row.id, state, ...outcome }, "device transfer finished");
  return moved;
}

/**
 * The broker's hooks with transfer reports taken first (every other job status goes on as
 * before), and the pending transfer commands sent again on each `cmd` subscription.
 */
export function withTransfers(hooks: BrokerHooks, deps: TransferDeps): BrokerHooks {
  return {
    ...hooks,
    async subscribed(deviceId, kind, status) {
      await hooks.subscribed(deviceId, kind, status);
      if (kind === "cmd" && MAY_TRANSFER.includes(status)) await resendTransferCommands(deps, deviceId);
    },
    async jobStatus(deviceId, jobId, parsed) {
      // Only a report that names itself a transfer's is looked up here: every update job report
      // of a rollout passes through, and a lookup each was 2.5 % of the server's time at 2,000
      // devices (issue #15 item 9). One that names a transfer but is malformed is dropped there.
      const claimsTransfer =
        typeof parsed === "object" &&
        parsed !== null &&
        (parsed as { transferId?: unknown }).transferId === jobId;
      if (claimsTransfer && (await transferReport(deps, deviceId, jobId, parsed))) return;
      return hooks.jobStatus(deviceId, jobId, parsed);
    },
  };
}
