import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { Aedes } from "aedes";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import { sessionEffect } from "../fleet/lifecycle.ts";
import type { Store } from "../store/store.ts";
import { closeSession } from "./in-flight.ts";
import type { RegistryChanges } from "./registry-record.ts";
import { type RecheckOutcome, recheckSessions } from "./session-recheck.ts";
import type { SessionRegistry } from "./sessions.ts";

export interface SessionControl extends DeviceChannel {
  /** Makes this process's live sessions follow the registry again (after control events may have been missed). */
  recheckSessions(): Promise<RecheckOutcome>;
}

/**
 * What the fleet does to this process's live sessions: close them, move them to a new status,
 * publish to a device. Each change is counted (`RegistryChanges`) so that a CONNECT checked
 * meanwhile reads the registry again once ready.
 */
export function sessionControl(deps: {
  broker: Aedes;
  store: Store;
  sessions: SessionRegistry;
  changes: RegistryChanges;
}): SessionControl {
  const { sessions, changes } = deps;
  function disconnect(deviceId: string): number {
    changes.changed();
    const live = sessions.of(deviceId);
    for (const session of live) closeSession(session.client);
    return live.length;
  }
  return {
    disconnect,
    // Revocation (RFC 5280 §5.3.1): only the sessions that authenticated with the revoked certificate.
    disconnectCertificate(deviceId, serial) {
      changes.changed();
      const matching = sessions.of(deviceId).filter((session) => session.identity.serial === serial);
      for (const session of matching) closeSession(session.client);
      return matching.length;
    },
    applyStatus(deviceId, status) {
      changes.changed();
      switch (sessionEffect(status)) {
        case "close":
          return disconnect(deviceId);
        case "none":
        case "restrict":
        case "wipe":
          return sessions.setStatus(deviceId, status);
      }
    },
    publish(deviceId, kind, payload) {
      const topic = deviceTopics(deviceId)[kind];
      const body = Buffer.from(JSON.stringify(payload));
      return new Promise((resolve, reject) =>
        deps.broker.publish(
          { cmd: "publish", topic, payload: body, qos: 1, retain: false, dup: false },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    },
    recheckSessions() {
      // CONNECTs being checked now read the registry again once ready, like after an event.
      changes.changed();
      return recheckSessions(deps.store, sessions);
    },
  };
}
