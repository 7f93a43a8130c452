import { devicePublishKind, jobIdOfStatusTopic } from "@bulwark/sdk/wire/topics";
import type { AedesOptions, AedesPublishPacket } from "aedes";
import type { Logger } from "pino";
import type { BrokerHooks } from "../../fleet/broker-hooks.ts";
import { checkPublish } from "../acl.ts";
import type { RateLimiter } from "../limits.ts";
import { isOrphanWill, type OrphanWills } from "../orphan-wills.ts";
import { MqttRefusal } from "../refusal.ts";
import type { SessionRegistry } from "../sessions.ts";

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

/** Aedes' `authorizePublish` (the ACL for the session's status, the rate) and `published` (routes to fleet). */
export function publishHandlers(deps: PublishDeps): PublishHandlers {
  const { log, sessions, orphanWills } = deps;
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
      done(null);
    },
    published(packet, client, done) {
      const deviceId = sessions.get(client)?.identity.deviceId ?? orphanWills.deviceOf(packet);
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
async function route(hooks: BrokerHooks, deviceId: string, packet: AedesPublishPacket): Promise<void> {
  const payload = packet.payload as Buffer;
  switch (devicePublishKind(deviceId, packet.topic)) {
    case "meta":
      return hooks.metadata(deviceId, payload);
    case "events":
      return hooks.report(deviceId, payload);
    case "jobStatus":
      return hooks.jobStatus(deviceId, jobIdOfStatusTopic(deviceId, packet.topic)!, payload);
    case undefined:
      return;
  }
}
