import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import type { DeviceStatus } from "./devices.ts";

/**
 * What a device asks for over HTTPS (update metadata and artifacts, later re-enrolment). Other
 * domains call `assertDeviceMayDownload` before serving a device, so a disabled device is cut off
 * from downloads as well as from MQTT (issue #5, incident actions).
 */
export type DownloadPurpose = "update" | "remediation";

/** Whether a device in `status` may download for `purpose`; quarantine admits remediation only. */
export function mayDownload(status: DeviceStatus, purpose: DownloadPurpose): boolean {
  switch (status) {
    case "active":
      return true;
    case "quarantined":
      return purpose === "remediation";
    case "pending":
    case "disabled":
    case "compromised":
    case "decommissioned":
      return false;
  }
}

/** Throws BW_ERR_DEVICE_NOT_ALLOWED (403) unless the device exists and may download for `purpose`. */
export async function assertDeviceMayDownload(
  db: Queryable,
  deviceId: string,
  purpose: DownloadPurpose,
): Promise<void> {
  const row = await db.get<{ status: DeviceStatus }>(`SELECT status FROM devices WHERE id = ?`, [deviceId]);
  if (!row) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
  if (!mayDownload(row.status, purpose))
    throw new BulwarkError("BW_ERR_DEVICE_NOT_ALLOWED", `the device is ${row.status}`);
}
