/**
 * Commands the server sends on a device's `cmd` topic, inside a signed envelope (`signed.ts`).
 * A device acts only on a command that verifies, names it, and is fresh.
 */
export type DeviceCommand = {
  type: "wipe";
  deviceId: string;
  /** The job id the device reports completion under (`jobs/{wipeId}/status`). */
  wipeId: string;
  issuedAt: number;
};

export function isDeviceCommand(v: unknown): v is DeviceCommand {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  switch (c.type) {
    case "wipe":
      return (
        typeof c.deviceId === "string" &&
        typeof c.wipeId === "string" &&
        /^[A-Za-z0-9_-]{1,64}$/.test(c.wipeId) &&
        typeof c.issuedAt === "number"
      );
    default:
      return false;
  }
}

/** What a device publishes on `jobs/{wipeId}/status` once its data is crypto-erased. */
export interface WipeConfirmation {
  state: "wiped";
  wipeId: string;
}

export function isWipeConfirmation(v: unknown, wipeId: string): v is WipeConfirmation {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return c.state === "wiped" && c.wipeId === wipeId;
}
