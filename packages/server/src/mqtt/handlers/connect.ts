import type { Socket } from "node:net";
import type { AedesOptions, Client } from "aedes";
import type { Logger } from "pino";
import type { DeviceStatus } from "../../fleet/devices.ts";
import { mayConnect } from "../../fleet/lifecycle.ts";
import type { Queryable } from "../../store/store.ts";
import type { DeviceIdentity, IdentityFailure } from "../identity.ts";
import type { BrokerLimits } from "../limits.ts";
import { asConnectRefusal, MqttRefusal } from "../refusal.ts";
import {
  certificateHolds,
  type RegistryChanges,
  type RegistryRecord,
  registryRecord,
} from "../registry-record.ts";
import type { SessionRegistry } from "../sessions.ts";

/** One CONNECT being checked: what its steps learn, in order. */
export interface ConnectAttempt {
  readonly client: Client;
  /** Set by the first step, from the verified client certificate alone. */
  identity: DeviceIdentity | undefined;
  /** The registry record, read once by the first step that needs it. */
  record: Promise<RegistryRecord | undefined> | undefined;
  /** The registry change count noted just before that read (`RegistryChanges`). */
  changesBefore: number;
  /** The device status the session will run under. */
  status: DeviceStatus;
}

export interface ConnectDeps {
  db: Queryable;
  log: Logger;
  limits: Pick<BrokerLimits, "keepaliveMin" | "keepaliveMax">;
  sessions: SessionRegistry;
  changes: RegistryChanges;
  /** The device identity of a connection's verified client certificate (`identity.ts`). */
  identify: (client: Client) => DeviceIdentity | IdentityFailure;
}

/** One CONNECT check: throws an `MqttRefusal`, or returns a promise when it must read the registry. */
export type ConnectStep = (attempt: ConnectAttempt) => void | Promise<void>;

/** The CONNECT checks, in order (cf. Aedes' own `connectActions`); the first reads the identity. */
export function connectSteps(deps: ConnectDeps, keepaliveOf: (client: Client) => number): ConnectStep[] {
  const { keepaliveMin, keepaliveMax } = deps.limits;
  const record = (attempt: ConnectAttempt) => {
    if (!attempt.record) {
      attempt.changesBefore = deps.changes.count;
      attempt.record = registryRecord(deps.db, attempt.identity!.serial);
    }
    return attempt.record;
  };
  return [
    // CRA Annex I Part I (2)(d): identity is the certificate; the username and password are ignored.
    function identityFromCertificate(attempt) {
      const identity = deps.identify(attempt.client);
      if (typeof identity === "string") throw new MqttRefusal(identity);
      attempt.identity = identity;
    },
    // [MQTT-3.1.3-9]: a client id other than the certificate's device is rejected with 0x02.
    function clientIdIsDeviceId(attempt) {
      if (attempt.client.id !== attempt.identity!.deviceId)
        throw new MqttRefusal("client-id-not-device-id", "client id must be the device id");
    },
    // [MQTT-3.1.2-24] the server enforces 1.5 × keepalive; here we insist there is a sane one.
    function keepaliveWithinLimits(attempt) {
      const keepalive = keepaliveOf(attempt.client);
      if (keepalive < keepaliveMin || keepalive > keepaliveMax)
        throw new MqttRefusal(
          "keepalive-out-of-range",
          `keepalive must be ${keepaliveMin}-${keepaliveMax} s`,
        );
    },
    // RFC 5280 §5.3.1: a revoked (or superseded, or expired) certificate is refused.
    async function certificateIsValid(attempt) {
      if (!certificateHolds(await record(attempt), attempt.identity!.deviceId))
        throw new MqttRefusal("certificate-not-valid", "certificate is not valid");
    },
    async function deviceMayConnect(attempt) {
      const status = (await record(attempt))?.device_status;
      if (!status || !mayConnect(status))
        throw new MqttRefusal("device-may-not-connect", `device is ${status ?? "unknown"}`);
      attempt.status = status;
    },
  ];
}

/** Runs the steps in order; a step that needs no registry read costs no promise. */
async function runSteps(steps: ConnectStep[], attempt: ConnectAttempt): Promise<void> {
  for (const step of steps) {
    const pending = step(attempt);
    if (pending) await pending;
  }
}

type ConnectHandlers = Required<Pick<AedesOptions, "preConnect" | "authenticate">>;

/** Aedes' `preConnect` (notes the keepalive the CONNECT asks for) and `authenticate` (runs the steps). */
export function connectHandlers(deps: ConnectDeps): ConnectHandlers {
  const keepalives = new WeakMap<Client, number>();
  const steps = connectSteps(deps, (client) => keepalives.get(client) ?? 0);
  return {
    preConnect(client, packet, done) {
      keepalives.set(client, packet.keepalive ?? 0);
      done(null, true);
    },
    authenticate(client, _username, _password, done) {
      const attempt: ConnectAttempt = {
        client,
        identity: undefined,
        record: undefined,
        changesBefore: 0,
        status: "active",
      };
      runSteps(steps, attempt).then(
        () => {
          deps.sessions.authenticate(client, attempt.identity!, attempt.status, attempt.changesBefore);
          done(null, true);
        },
        (error: unknown) => {
          const refusal = asConnectRefusal(error);
          const remoteAddress = attempt.identity ? undefined : (client.conn as Socket).remoteAddress;
          const deviceId = attempt.identity?.deviceId;
          deps.log.warn({ deviceId, remoteAddress, reason: refusal.message }, "mqtt connect refused");
          done(refusal, false);
        },
      );
    },
  };
}
