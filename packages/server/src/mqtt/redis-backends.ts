import persistenceRedis from "aedes-persistence-redis";
import { Redis } from "ioredis";
import mqemitterRedis from "mqemitter-redis";

export interface BrokerBackends {
  mq: unknown;
  persistence: unknown;
  /** Closes the session store's connection (Aedes closes `mq` itself when the broker closes). */
  close(): Promise<void>;
}

/**
 * The broker's Redis backends for scale-out: `mqemitter-redis` carries every PUBLISH (and Aedes'
 * own `$SYS` client-takeover notices) between processes; `aedes-persistence-redis` keeps
 * subscriptions, QoS 1 in-flight messages, retained messages and wills where every process sees
 * them. Checked against Aedes 1.2 on Node 26 (see docs/dependencies.md).
 */
export function redisBrokerBackends(url: string): BrokerBackends {
  const mq = mqemitterRedis({ connectionString: url });
  const persistence = persistenceRedis({ conn: new Redis(url) }) as {
    destroy(cb: (error?: Error) => void): void;
  };
  return {
    mq,
    persistence,
    close: () => new Promise<void>((resolve) => persistence.destroy(() => resolve())),
  };
}
