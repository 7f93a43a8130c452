import persistenceRedis from "aedes-persistence-redis";
import type { Logger } from "pino";
import { redisConnection } from "../control/redis-connection.ts";
import { DegradableEmitter } from "./degradable-mq.ts";

export interface BrokerBackends {
  mq: unknown;
  persistence: unknown;
  /** Closes the session store's connection; call after the broker closed (Aedes closes `mq` itself). */
  close(): Promise<void>;
}

/** Where the broker's data lives under the deployment's prefix (`--redis-prefix`). */
export function brokerNamespaces(prefix: string): { pubsub: string; keys: string } {
  return {
    // One MQTT topic level in front of every topic ("bulwark:mqtt/bw/v1/d/…"), so wildcards still
    // match level by level; the Redis channel is that prefixed topic.
    pubsub: `${prefix}mqtt/`,
    // ioredis' keyPrefix, put in front of every key the session store reads or writes.
    keys: `${prefix}mqtt:`,
  };
}

/**
 * The broker's Redis backends for scale-out: `mqemitter-redis` carries every PUBLISH (and Aedes'
 * own `$SYS` client-takeover notices) between processes; `aedes-persistence-redis` keeps
 * subscriptions, QoS 1 in-flight messages, retained messages and wills where every process sees
 * them. Both live under the deployment's prefix, so deployments sharing one Redis never see each
 * other's messages or sessions (a Redis database number would not do for the pub/sub part: Redis
 * channels are global to the server). Checked against Aedes 1.2 on Node 26 (see docs/dependencies.md).
 */
export function redisBrokerBackends(url: string, prefix: string, log: Logger): BrokerBackends {
  const ns = brokerNamespaces(prefix);
  // Auto-pipelining: the session-store commands that the CONNECTs of one event-loop turn issue
  // (six per clean CONNECT) go out in one write instead of one write each; in a connection storm
  // the socket writes to Redis and PostgreSQL took ~19 % of a scale-out broker's main thread.
  const conn = redisConnection(url, "mqtt-sessions", log, { keyPrefix: ns.keys, enableAutoPipelining: true });
  // Our own pub/sub connections rather than mqemitter-redis' (it closes them with the emitter).
  // The subscriber skips ioredis' ready check: ioredis (5.8.2 and later, ioredis#2037) writes a
  // SUBSCRIBE made while the connection is still in its handshake straight away, and the INFO of
  // the ready check that follows is then refused by Redis in subscriber mode, failing the
  // connection. Redis accepts SUBSCRIBE while it loads its dataset, so the check guards nothing here.
  // Without the client-info handshake, no CLIENT SETINFO can land after a SUBSCRIBE either.
  // A SUBSCRIBE made while Redis is away waits for its return (`maxRetriesPerRequest: null`): were it
  // dropped, ioredis would not subscribe it again on reconnection and the topic would stay deaf.
  const subConn = redisConnection(url, "mqtt-sub", log, {
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: null,
  });
  // mqemitter-redis turns auto-pipelining on for the connections it makes itself.
  const pubConn = redisConnection(url, "mqtt-pub", log, { enableAutoPipelining: true });
  return {
    mq: new DegradableEmitter(ns.pubsub, { subConn, pubConn }, log),
    persistence: tolerateWillDeletionFailure(persistenceRedis({ conn }), log),
    // Not `persistence.destroy()`: in aedes-persistence-redis 12 it first unsubscribes from the
    // broker's mq, which never answers once Aedes has closed it, so shutdown would hang. The
    // connection is ours, so we close it directly.
    close: async () => {
      conn.disconnect();
    },
  };
}

/**
 * Aedes' CONNECT deletes the client's previous will with `delWill(client).finally(…)` and handles
 * nothing on the promise `finally` returns: a failed deletion (Redis away or refusing the command)
 * was an unhandled rejection, the end of the process. Every other caller ignores or logs the
 * failure anyway, so it is logged here and the CONNECT goes on (a stale will is replaced by the
 * new one, or published once at worst). Patched on the instance: the class keeps private fields,
 * which a Proxy would break.
 */
export function tolerateWillDeletionFailure<T>(persistence: T, log: Logger): T {
  const store = persistence as { delWill(client: { id: string; brokerId: string }): Promise<unknown> };
  const delWill = store.delWill.bind(store);
  store.delWill = (client) =>
    delWill(client).catch((error: Error) => {
      log.warn({ reason: error.message }, "stored will not deleted");
      return null;
    });
  return persistence;
}
