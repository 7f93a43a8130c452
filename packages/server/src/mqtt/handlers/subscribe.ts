import { deviceSubscribeKind } from "@bulwark/sdk/wire/topics";
import type { AedesOptions, Client, Subscription } from "aedes";
import type { Logger } from "pino";
import type { BrokerHooks } from "../../fleet/broker-hooks.ts";
import { checkSubscribe } from "../acl.ts";
import { MqttRefusal } from "../refusal.ts";
import type { SessionRegistry } from "../sessions.ts";

export interface SubscribeDeps {
  log: Logger;
  sessions: SessionRegistry;
  hooks: BrokerHooks;
}

/** Aedes' `authorizeSubscribe`: a device subscribes only to its own server → device topics. */
export function authorizeSubscribe(deps: SubscribeDeps): NonNullable<AedesOptions["authorizeSubscribe"]> {
  return (client, subscription, done) => {
    const session = deps.sessions.get(client);
    const refusal = session
      ? checkSubscribe(session.identity.deviceId, subscription.topic)
      : "wildcard-or-foreign-filter";
    if (!refusal) return done(null, subscription);
    deps.log.warn(
      { deviceId: session?.identity.deviceId, filter: subscription.topic.slice(0, 200), refusal },
      "mqtt subscribe refused",
    );
    // [MQTT-1.5.3-1]: ill-formed UTF-8 closes the connection.
    if (refusal === "malformed-utf8") return done(new MqttRefusal(refusal));
    // MQTT 3.1.1 §3.9.3: a refused filter gets return code 0x80 in SUBACK; the session stays up.
    done(null, null);
  };
}

/** Aedes' `subscribe` event: tells fleet, which pushes the device's config or a pending wipe. */
export function subscribed(deps: SubscribeDeps): (subscriptions: Subscription[], client: Client) => void {
  return (subscriptions, client) => {
    const session = deps.sessions.get(client);
    if (!session) return;
    const { deviceId } = session.identity;
    for (const { topic } of subscriptions) {
      const kind = deviceSubscribeKind(deviceId, topic);
      if (kind)
        void deps.hooks
          .subscribed(deviceId, kind, session.status)
          .catch((err) => deps.log.error({ err }, "subscribe follow-up failed"));
    }
  };
}
