import type { DeviceStatus } from "../fleet/devices.ts";
import type { Queryable } from "../store/store.ts";

/** What the registry holds about a presented certificate and its device, read in one query. */
export interface RegistryRecord {
  cert_status: string;
  cert_device_id: string | null;
  not_after: number;
  device_status: DeviceStatus | null;
}

export function registryRecord(db: Queryable, serial: string): Promise<RegistryRecord | undefined> {
  return db.get<RegistryRecord>(
    `SELECT c.status AS cert_status, c.device_id AS cert_device_id, c.not_after, d.status AS device_status
     FROM certificates c LEFT JOIN devices d ON d.id = c.device_id WHERE c.serial = ?`,
    [serial],
  );
}

/**
 * RFC 5280 §5.3.1: the presented certificate may carry a session only while the registry holds it
 * valid (not revoked or superseded), for this device, and unexpired. Shared by the CONNECT step and
 * the re-checks once the session is live.
 */
export function certificateHolds(record: RegistryRecord | undefined, deviceId: string): boolean {
  return (
    record?.cert_status === "valid" &&
    record.cert_device_id === deviceId &&
    Number(record.not_after) > Date.now()
  );
}

/**
 * Registry changes this process was told of (status changes, revocations, a device's record deleted
 * after its wipe: each comes with a disconnect or status event), counted. A CONNECT notes the count
 * before its registry read; once ready, the session reads the registry again only when the count
 * moved in between, i.e. when an action's event may have found no live session to act on.
 */
export class RegistryChanges {
  #count = 0;

  /** An event changed (or may have changed) what the registry says of some device. */
  changed(): void {
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }
}
