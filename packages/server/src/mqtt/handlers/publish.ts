import { devicePublishKind, jobIdOfStatusTopic } from "@bulwark/sdk/wire/topics";
import type { AedesOptions, AedesPublishPacket } from "aedes";
import type { Logger } from "pino";
import type { BrokerHooks } from "../../fleet/broker-hooks.ts";
import { checkPublish } from "../acl.ts";
import { handleInFlight, type InFlight } from "../in-flight.ts";
import type { RateLimiter } from "../limits.ts";
import { isOrphanWill, type OrphanWills } from "../orphan-wills.ts";
import { MqttRefusal } from "../refusal.ts";
import type { SessionRegistry } from "../sessions.ts";

/** What routing reads of a PUBLISH (a device's, or a will). */
type DevicePacket = Pick<AedesPublishPacket, "topic" | "payload">;

type PublishHandlers = Required<Pick<AedesOptions, "authorizePublish" | "published">>;

export interface PublishDeps {
  log: Logger;
  sessions: SessionRegistry;
  hooks: BrokerHooks;
  /** Per-device publish rate (`limits.ts`). */
  publishRate: RateLimiter;
  orphanWills: OrphanWills;
  /** This server process's broker id: its own sessions' wills are not orphans. */
  instanceId: string;
}

/**
 * Aedes' `authorizePublish` (the ACL for the session's status, the rate, then the handling of the
 * message) and `published` (routes the wills of other processes' sessions).
 *
 * A device's message is handled (stored) in `authorizePublish`, before the acknowledgement: Aedes
 * writes the QoS 1 PUBACK after `authorizePublish` and before `published` (`lib/handlers/
 * publish.js`). MQTT 3.1.1 §4.3.2 / MQTT 5 §4.3.2: with PUBACK the receiver takes ownership of the
 * message and the sender discards it, so a PUBACK sent before the message was stored lost it when
 * the server died in between. A message that could not be handled is not acknowledged: the
 * connection closes (3.1.1 has no negative PUBACK) and the device sends it again after it
 * reconnects (§4.4 asks it of persistent sessions only; the agent connects with clean sessions,
 * where mqtt.js does not send them again, so it keeps its security events and job reports in its
 * encrypted store until their PUBACK and sends them again itself: `security-events.ts`,
 * `updates/report-outbox.ts`). One device's messages are handled one at a time, in the order received,
 * so their PUBACKs go out in that order too ([MQTT-4.6.0-2]); Aedes hands over all the packets of
 * one socket read at once.
 */
export function publishHandlers(deps: PublishDeps): PublishHandlers {
  const { log, sessions, orphanWills } = deps;
  /** Per client: the handling of its last message; false once one failed (its connection closes). */
  const handling = new WeakMap<object, Promise<boolean>>();
  const handleInOrder = (inFlight: InFlight, deviceId: string, packet: DevicePacket) => {
    const previous = handling.get(inFlight.client) ?? Promise.resolve(true);
    const next = previous.then(async (ok) => {
      // After a failure nothing more is handled: the device sends those again too.
      if (!ok) return false;
      try {
        await handleInFlight(inFlight, () => route(deps.hooks, deviceId, packet));
        return true;
      } catch (error) {
        log.error({ err: error, deviceId }, "device message not handled, not acknowledged");
        return false;
      }
    });
    handling.set(inFlight.client, next);
    return next;
  };
  return {
    authorizePublish(client, packet, done) {
      // Issue #13 item 2: a will of another (stopped) process's session, from Aedes' will sweep.
      if (isOrphanWill(packet, deps.instanceId)) return orphanWills.authorize(packet, done);
      const session = sessions.get(client);
      if (!session) return done(new MqttRefusal("not-authenticated", "not authenticated"));
      const { deviceId } = session.identity;
      // A flood closes the connection: MQTT 3.1.1 has no way to tell a client to slow down.
      if (!deps.publishRate.take(deviceId)) {
        log.warn({ deviceId }, "mqtt publish rate exceeded, closing");
        return done(new MqttRefusal("rate-limited"));
      }
      const refusal = checkPublish(deviceId, packet, session.status);
      if (refusal) {
        log.warn({ deviceId, topic: packet.topic.slice(0, 200), refusal }, "mqtt publish refused");
        // [MQTT-3.3.5-2]: a refused PUBLISH closes the connection (3.1.1 has no negative PUBACK).
        return done(new MqttRefusal(refusal));
      }
      const inFlight: InFlight = { client: session.client, afterAck: [] };
      void handleInOrder(inFlight, deviceId, packet).then((ok) => {
        // Aedes writes the PUBACK within `done` (`runSeries` → `enqueuePublish`); then what waited for it.
        done(ok ? null : new MqttRefusal("not-handled", "device message not handled"));
        for (const then of inFlight.afterAck) then();
      });
    },
    published(packet, _client, done) {
      // A device's own messages were handled in `authorizePublish`; a will authorised by the
      // orphan-will check is routed here (a will has no acknowledgement to wait for).
      const deviceId = orphanWills.deviceOf(packet);
      if (!deviceId) return done(null);
      route(deps.hooks, deviceId, packet).then(
        () => done(null),
        (error) => {
          log.error({ err: error, deviceId }, "device message not handled");
          done(null);
        },
      );
    },
  };
}

/** Sends what a device published to the fleet's hook for its topic kind. */
async function route(hooks: BrokerHooks, deviceId: string, packet: DevicePacket): Promise<void> {
  const payload = packet.payload as Buffer;
  switch (devicePublishKind(deviceId, packet.topic)) {
    case "meta":
      return hooks.metadata(deviceId, payload);
    case "events":
      return hooks.report(deviceId, payload);
    case "jobStatus": {
      // Parsed here once: each hook of the chain parsed it again, four times a report (issue #15
      // item 9: a rollout's reports are the server's most frequent message).
      let report: unknown;
      try {
        report = JSON.parse(payload.toString("utf8"));
      } catch {
        return; // not JSON: nothing to apply (acknowledged, as every hook ignored it)
      }
      return hooks.jobStatus(deviceId, jobIdOfStatusTopic(deviceId, packet.topic)!, report);
    }
    case undefined:
      return;
  }
}
