import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type DeviceCommand, isDeviceCommand, type WipeConfirmation } from "@bulwark/sdk/wire/commands";
import { EnvelopeError, openEnvelope } from "@bulwark/sdk/wire/signed";
import { destroyDataKey } from "./vault.ts";

export type CommandVerdict = { ok: true; command: DeviceCommand } | { ok: false; reason: string };

/** A `cmd` message is acted on only if its signature chains to the pinned root and it names this device. */
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
  if (!isDeviceCommand(payload)) return { ok: false, reason: "not a known command" };
  if (payload.deviceId !== ctx.deviceId) return { ok: false, reason: "command for another device" };
  return { ok: true, command: payload };
}

/**
 * The wipe, in order: destroy the data key (everything sealed under it — the device key, the
 * applied configuration, spooled events — is unreadable from this instant), then hand back the
 * confirmation to publish. `removeRemains` deletes the leftover files after it is sent.
 */
export function cryptoErase(dir: string, wipeId: string): WipeConfirmation {
  destroyDataKey(dir);
  return { state: "wiped", wipeId };
}

export function removeRemains(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}
