import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type DeviceCommand, isDeviceCommand, type WipeConfirmation } from "@bulwark/sdk/wire/commands";
import { EnvelopeError, openEnvelope } from "@bulwark/sdk/wire/signed";
import { isTransferCommand, type TransferCommand } from "@bulwark/sdk/wire/transfer";
import { isUserNoticeCommand, type UserNoticeCommand } from "@bulwark/sdk/wire/user-notice";
import { destroyKek } from "./device-store.ts";
import type { AgentLog } from "./log.ts";
import {
  deliverWipeReceipt,
  type PendingWipeReceipt,
  readWipeReceipt,
  removeWipeReceipt,
  WIPE_RECEIPT_FILE,
  writeWipeReceipt,
} from "./wipe-receipt.ts";

export type CommandVerdict =
  | { ok: true; command: DeviceCommand | TransferCommand | UserNoticeCommand }
  | { ok: false; reason: string };

/**
 * A `cmd` message is acted on only if its signature chains to the pinned root, it is one of the
 * known commands (wipe, transfer, the CRA Art. 14(8) user notice) and it names this device. Anything
 * else is refused, and the caller reports it as an integrity failure.
 */
export function acceptCommand(
  raw: unknown,
  ctx: { deviceId: string; root: { pem: string; fingerprint: string } },
): CommandVerdict {
  let payload: unknown;
  try {
    payload = openEnvelope(raw, ctx.root);
  } catch (error) {
    return { ok: false, reason: `signature: ${error instanceof EnvelopeError ? error.reason : "malformed"}` };
  }
  if (!isDeviceCommand(payload) && !isTransferCommand(payload) && !isUserNoticeCommand(payload))
    return { ok: false, reason: "not a known command" };
  if (payload.deviceId !== ctx.deviceId) return { ok: false, reason: "command for another device" };
  return { ok: true, command: payload };
}

/**
 * The wipe, in order: sign the receipt with the device key and write it, fsynced, outside the store
 * (`wipe-receipt.ts`: from then on the wipe is committed, and a start that finds the receipt finishes
 * the erase before anything else), destroy the store's key-encryption key (every data key it wrapped,
 * and so the device key, the applied configuration and queued events, is unreadable from this
 * instant), then hand back the confirmation to publish. `removeRemains` deletes the leftover files
 * but the receipt once the confirmation is settled.
 */
export function cryptoErase(dir: string, wipeId: string, pending?: PendingWipeReceipt): WipeConfirmation {
  if (pending) writeWipeReceipt(dir, pending);
  destroyKek(dir);
  return { state: "wiped", wipeId };
}

/**
 * A start that finds a wipe receipt: the wipe was committed by an earlier run (stopped, killed or
 * out of power before the server acknowledged it). Finishes the erase (the KEK first, a no-op once
 * destroyed), leaves only the receipt and delivers it until the server answers or `signal`.
 */
export async function resumeWipe(dir: string, log: AgentLog, signal?: AbortSignal): Promise<"wiped"> {
  destroyKek(dir);
  removeRemains(dir);
  const kept = readWipeReceipt(dir);
  if (!kept.ok) {
    log.error("wipe receipt unreadable; dropped (the erase stands)", { reason: kept.reason });
    removeWipeReceipt(dir);
  } else {
    log.warn("wiped before the server acknowledged it; delivering the wipe receipt", {
      wipeId: kept.pending.wipeId,
    });
    await deliverWipeReceipt(dir, kept.pending, log, { signal });
  }
  log.info("wiped");
  return "wiped";
}

/** Deletes everything in the state directory but the wipe receipt still to be delivered. */
export function removeRemains(dir: string): void {
  for (const name of readdirSync(dir))
    if (name !== WIPE_RECEIPT_FILE) rmSync(join(dir, name), { recursive: true, force: true });
}

/**
 * `bulwark-agent reset`: back to the first-boot state — crypto-erase (the KEK first), then delete
 * everything in the state directory, which is kept (empty, 0700). Returns whether there was anything.
 */
export function resetAgent(dir: string): boolean {
  if (!existsSync(dir)) return false;
  const had = readdirSync(dir).length > 0;
  destroyKek(dir);
  removeRemains(dir);
  removeWipeReceipt(dir);
  return had;
}
