import type { DeviceStatus } from "../fleet/devices.ts";
import { mayConnect } from "../fleet/lifecycle.ts";
import { chunks } from "../store/placeholders.ts";
import type { Store } from "../store/store.ts";
import { certificateHolds, type RegistryRecord } from "./connect-steps.ts";
import type { Session, SessionRegistry } from "./sessions.ts";

/** What a re-check did to this process's live sessions. */
export interface RecheckOutcome {
  checked: number;
  closed: number;
  restatused: number;
}

async function recordsBySerial(store: Store, serials: string[]): Promise<Map<string, RegistryRecord>> {
  const records = new Map<string, RegistryRecord>();
  for (const chunk of chunks(serials)) {
    const rows = await store.all<RegistryRecord & { serial: string }>(
      `SELECT c.serial, c.status AS cert_status, c.device_id AS cert_device_id, c.not_after,
              d.status AS device_status
       FROM certificates c LEFT JOIN devices d ON d.id = c.device_id
       WHERE c.serial IN (${chunk.map(() => "?").join(", ")})`,
      chunk,
    );
    for (const row of rows) records.set(row.serial, row);
  }
  return records;
}

/**
 * Makes every live session of this process follow the registry again: closes those whose
 * certificate no longer holds (RFC 5280 §5.3.1) or whose device may no longer connect, and moves
 * the others to their device's current status. For when control events may have been missed —
 * the control bus was away with Redis (issue #13): a disable or revocation committed through
 * another process meanwhile reached nobody here.
 */
export async function recheckSessions(store: Store, sessions: SessionRegistry): Promise<RecheckOutcome> {
  const live: Session[] = [];
  for (const deviceId of [...sessions.deviceIds()]) live.push(...sessions.of(deviceId));
  const records = await recordsBySerial(store, [...new Set(live.map((s) => s.identity.serial))]);
  const outcome: RecheckOutcome = { checked: live.length, closed: 0, restatused: 0 };
  for (const session of live) {
    const record = records.get(session.identity.serial);
    const status: DeviceStatus | null | undefined = record?.device_status;
    if (!certificateHolds(record, session.identity.deviceId) || !status || !mayConnect(status)) {
      session.client.close();
      outcome.closed++;
    } else if (status !== session.status) {
      session.status = status;
      outcome.restatused++;
    }
  }
  return outcome;
}
