import type { Client } from "aedes";
import type { DeviceStatus } from "../fleet/devices.ts";
import { mayConnect } from "../fleet/lifecycle.ts";
import type { Queryable, Store } from "../store/store.ts";
import type { DeviceIdentity } from "./identity.ts";
import type { BrokerLimits } from "./limits.ts";

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes (6–255 are reserved: never sent).
export const IDENTIFIER_REJECTED = 2;
export const NOT_AUTHORIZED = 5;

export class ConnectRefused extends Error {
  readonly returnCode: number;
  constructor(message: string, returnCode: number) {
    super(message);
    this.returnCode = returnCode;
  }
}

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
 * the broker's re-check once the session is live.
 */
export function certificateHolds(record: RegistryRecord | undefined, deviceId: string): boolean {
  return (
    record?.cert_status === "valid" &&
    record.cert_device_id === deviceId &&
    Number(record.not_after) > Date.now()
  );
}

/** The registry record of one CONNECT, read at most once and shared by the steps. */
export type RecordOf = () => Promise<RegistryRecord | undefined>;

/** One CONNECT check; may return the device status the session will run under. */
export type ConnectStep = (
  client: Client,
  identity: DeviceIdentity,
  record: RecordOf,
) => Promise<DeviceStatus | undefined>;

/** A `RecordOf` for one CONNECT: the first step that needs the record reads it. */
export function recordOnce(store: Store, serial: string): RecordOf {
  let read: Promise<RegistryRecord | undefined> | undefined;
  return () => {
    read ??= registryRecord(store, serial);
    return read;
  };
}

/** The CONNECT checks, in order (cf. Aedes' own connectActions). */
export function connectSteps(deps: {
  limits: BrokerLimits;
  keepaliveOf: (client: Client) => number | undefined;
}): ConnectStep[] {
  return [
    async function clientIdIsDeviceId(client, identity) {
      if (client.id !== identity.deviceId)
        throw new ConnectRefused("client id must be the device id", IDENTIFIER_REJECTED);
      return undefined;
    },
    // [MQTT-3.1.2-24] the server enforces 1.5 × keepalive; here we insist there is a sane one.
    async function keepaliveWithinLimits(client) {
      const keepalive = deps.keepaliveOf(client) ?? 0;
      if (keepalive < deps.limits.keepaliveMin || keepalive > deps.limits.keepaliveMax)
        throw new ConnectRefused(
          `keepalive must be ${deps.limits.keepaliveMin}-${deps.limits.keepaliveMax} s`,
          NOT_AUTHORIZED,
        );
      return undefined;
    },
    // RFC 5280 §5.3.1: a revoked (or superseded, or expired) certificate is refused.
    async function certificateIsValid(_client, identity, record) {
      if (!certificateHolds(await record(), identity.deviceId))
        throw new ConnectRefused("certificate is not valid", NOT_AUTHORIZED);
      return undefined;
    },
    async function deviceMayConnect(_client, _identity, record) {
      const status = (await record())?.device_status;
      if (!status || !mayConnect(status))
        throw new ConnectRefused(`device is ${status ?? "unknown"}`, NOT_AUTHORIZED);
      return status;
    },
  ];
}
