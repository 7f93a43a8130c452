import type { Client } from "aedes";
import { type DeviceStatus, deviceById } from "../fleet/devices.ts";
import { mayConnect } from "../fleet/lifecycle.ts";
import { certificateStatus } from "../pki/issue.ts";
import type { Store } from "../store/store.ts";
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

/** One CONNECT check; may return the device status the session will run under. */
export type ConnectStep = (client: Client, identity: DeviceIdentity) => Promise<DeviceStatus | undefined>;

/** The CONNECT checks, in order (cf. Aedes' own connectActions). */
export function connectSteps(deps: {
  store: Store;
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
    async function certificateIsValid(_client, identity) {
      const cert = await certificateStatus(deps.store, identity.serial);
      if (
        cert?.status !== "valid" ||
        cert.device_id !== identity.deviceId ||
        Number(cert.not_after) <= Date.now()
      )
        throw new ConnectRefused("certificate is not valid", NOT_AUTHORIZED);
      return undefined;
    },
    async function deviceMayConnect(_client, identity) {
      const device = await deviceById(deps.store, identity.deviceId);
      if (!device || !mayConnect(device.status))
        throw new ConnectRefused(`device is ${device?.status ?? "unknown"}`, NOT_AUTHORIZED);
      return device.status;
    },
  ];
}
