import persistenceRedis from "aedes-persistence-redis";
import { Redis } from "ioredis";
import mqemitterRedis from "mqemitter-redis";

export interface BrokerBackends {
  mq: unknown;
  persistence: unknown;
  /** Closes the session store's connection; call after the broker closed (Aedes closes `mq` itself). */
  close(): Promise<void>;
}

/**
 * The broker's Redis backends for scale-out: `mqemitter-redis` carries every PUBLISH (and Aedes'
 * own `$SYS` client-takeover notices) between processes; `aedes-persistence-redis` keeps
 * subscriptions, QoS 1 in-flight messages, retained messages and wills where every process sees
 * them. Checked against Aedes 1.2 on Node 26 (see docs/dependencies.md).
 */
export function redisBrokerBackends(url: string): BrokerBackends {
  const conn = new Redis(url);
  return {
    mq: mqemitterRedis({ connectionString: url }),
    persistence: persistenceRedis({ conn }),
    // Not `persistence.destroy()`: in aedes-persistence-redis 12 it first unsubscribes from the
    // broker's mq, which never answers once Aedes has closed it, so shutdown would hang. The
    // connection is ours, so we close it directly.
    close: async () => {
      conn.disconnect();
    },
  };
}
