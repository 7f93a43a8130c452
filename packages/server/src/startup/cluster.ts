import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { type ControlBus, LocalControlBus } from "../control/bus.ts";
import { RedisControlBus } from "../control/redis-bus.ts";
import { markAllOffline } from "../fleet/devices.ts";
import { redisBrokerBackends } from "../mqtt/redis-backends.ts";
import type { Store } from "../store/store.ts";

/** This process's place among the server processes: alone, or scaled out over Redis. */
export interface Cluster {
  scaledOut: boolean;
  control: ControlBus;
  /** The Redis bus when scaled out (it tells when Redis is back after an outage). */
  redisControl: RedisControlBus | undefined;
  backends: ReturnType<typeof redisBrokerBackends> | undefined;
}

export async function joinCluster(config: Config, store: Store, log: Logger): Promise<Cluster> {
  // One process alone knows no device is connected yet; in scale-out the others hold live sessions.
  const scaledOut = config.redisUrl !== undefined;
  if (!scaledOut) await markAllOffline(store);
  const onControlError = (error: unknown) => log.warn({ err: error }, "control bus");
  const redisControl = config.redisUrl
    ? await RedisControlBus.connect(config.redisUrl, config.redisPrefix, onControlError, log)
    : undefined;
  const control: ControlBus = redisControl ?? new LocalControlBus(onControlError);
  const backends = config.redisUrl
    ? redisBrokerBackends(config.redisUrl, config.redisPrefix, log.child({ component: "mqtt" }))
    : undefined;
  return { scaledOut, control, redisControl, backends };
}
