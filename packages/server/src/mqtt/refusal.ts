import type { AclRefusal } from "./acl.ts";
import type { IdentityFailure } from "./identity.ts";

/** MQTT 3.1.1 §3.2.2.3 table 3.1: the CONNACK return codes that refuse a connection (6–255 are reserved). */
export const CONNACK = {
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const;

export type ConnackRefusalCode = (typeof CONNACK)[keyof typeof CONNACK];

/** Why a CONNECT is refused. */
export type ConnectRefusalReason =
  | IdentityFailure
  | "client-id-not-device-id"
  | "keepalive-out-of-range"
  | "certificate-not-valid"
  | "device-may-not-connect"
  | "check-failed";

/** Why a packet of a live session (PUBLISH, SUBSCRIBE) or a stored will is refused. */
export type PacketRefusalReason =
  | AclRefusal
  | "not-authenticated"
  | "rate-limited"
  | "malformed-will"
  | "unknown-device"
  | "holder-alive"
  | "will-not-checked"
  /** The message could not be handled (stored): not acknowledged, so the device sends it again. */
  | "not-handled";

export type RefusalReason = ConnectRefusalReason | PacketRefusalReason;

/** The CONNACK return code of each CONNECT refusal (exhaustive: a new reason needs its code). */
const CONNECT_RETURN_CODES: Record<ConnectRefusalReason, ConnackRefusalCode> = {
  "no-certificate": CONNACK.notAuthorized,
  "not-a-device-certificate": CONNACK.notAuthorized,
  "no-device-uri": CONNACK.notAuthorized,
  // [MQTT-3.1.3-9]: a client identifier the server rejects gets 0x02.
  "client-id-not-device-id": CONNACK.identifierRejected,
  "keepalive-out-of-range": CONNACK.notAuthorized,
  "certificate-not-valid": CONNACK.notAuthorized,
  "device-may-not-connect": CONNACK.notAuthorized,
  // MQTT 3.1.1 §3.2.2.3: 0x03, the MQTT service is unavailable. A CONNECT check that could not run
  // (the registry unreachable) is the server's failure, not the device's: a device retries with its
  // ordinary backoff instead of treating it as a lasting refusal (0x04/0x05: 30-60 minutes).
  "check-failed": CONNACK.serverUnavailable,
};

/**
 * Every refusal of the broker: a closed reason, the message logged with it, and the CONNACK return
 * code. Aedes reads `returnCode` from the error `authenticate` hands it (`lib/handlers/connect.js`),
 * and closes the connection on an error from `authorizePublish` or `authorizeSubscribe`.
 */
export class MqttRefusal extends Error {
  readonly reason: RefusalReason;
  readonly returnCode: ConnackRefusalCode;

  constructor(reason: RefusalReason, message: string = reason, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
    // A refused PUBLISH or SUBSCRIBE has no return code of its own (3.1.1 has no negative ack).
    this.returnCode = CONNECT_RETURN_CODES[reason as ConnectRefusalReason] ?? CONNACK.notAuthorized;
  }
}

/** A failure of a CONNECT step as a refusal: an unexpected error (the registry away) is refused with 0x05, its cause kept. */
export function asConnectRefusal(error: unknown): MqttRefusal {
  if (error instanceof MqttRefusal) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new MqttRefusal("check-failed", message, { cause: error });
}
