import type { EventEmitter } from "node:events";
import type { Aedes } from "aedes";
import type { Logger } from "pino";
import type { SessionRegistry } from "../sessions.ts";

/** Logs what Aedes reports of the broker and its clients; none of it may end the process. */
export function logBrokerEvents(broker: Aedes, sessions: SessionRegistry, log: Logger): void {
  // Issue #13: Aedes emits 'error' when its will sweep or a session-store read fails (Redis away, a
  // refused will); unhandled, that ended the process. (Not in Aedes' types: it is an EventEmitter.)
  (broker as EventEmitter).on("error", (error: Error) =>
    log.warn({ reason: error.message }, "mqtt broker error"),
  );
  // [MQTT-3.1.2-24]: no packet within 1.5 × keepalive; Aedes closed the connection.
  broker.on("keepaliveTimeout", (client) => {
    log.info({ deviceId: sessions.get(client)?.identity.deviceId }, "mqtt keepalive expired, closed");
  });
  broker.on("clientError", (client, error) => {
    log.debug(
      { deviceId: sessions.get(client)?.identity.deviceId, reason: error.message },
      "mqtt client error",
    );
  });
}
