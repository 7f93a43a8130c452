import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";

/** Which part of the server a Redis connection serves; named in every log line about it. */
export type RedisRole = "mqtt-pub" | "mqtt-sub" | "mqtt-sessions" | "control-pub" | "control-sub";

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

/**
 * Delay before reconnection attempt `attempt` (1, 2, …): doubling from 100 ms up to 5 s, each
 * drawn from its upper half so that the processes of a deployment do not all knock at once.
 */
export function reconnectDelay(attempt: number, random = Math.random): number {
  const ceiling = Math.min(FIRST_DELAY_MS * 2 ** Math.min(attempt - 1, 16), MAX_DELAY_MS);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * A Redis connection that outlives Redis (issue #13): it reconnects for ever with backoff,
 * logs the loss once and the return once (with how many commands failed meanwhile) instead of one
 * line per attempt, and never lets a failed command end the process. Commands made while the
 * connection is down fail at the next failed attempt (`maxRetriesPerRequest: 0`) rather than
 * piling up; a caller that must wait for Redis passes `maxRetriesPerRequest: null`.
 */
export function redisConnection(
  url: string,
  role: RedisRole,
  log: Logger,
  options: RedisOptions = {},
): Redis {
  const conn = new Redis(url, { retryStrategy: reconnectDelay, maxRetriesPerRequest: 0, ...options });
  let down = false;
  let failed = 0;
  conn.on("reconnecting", () => {
    if (down) return;
    down = true;
    log.warn({ redis: role }, "redis connection lost");
  });
  conn.on("error", (error: Error) => {
    if (down) log.debug({ redis: role, reason: error.message }, "redis still unreachable");
    else log.warn({ redis: role, reason: error.message }, "redis connection error");
  });
  conn.on("ready", () => {
    if (!down) return;
    down = false;
    log.info({ redis: role, failedCommands: failed }, "redis connection restored");
    failed = 0;
  });
  return guardCommands(conn, (command, error) => {
    if (down) failed++;
    else log.warn({ redis: role, command, reason: error.message }, "redis command failed");
  });
}

/**
 * The connection with a handler on every command's promise. The libraries given these connections
 * (aedes-persistence-redis, mqemitter-redis) issue some commands without awaiting them (a will's
 * list bookkeeping, QUIT at close); without a handler each failure of those would be an unhandled
 * rejection, which ends a Node process. Callers that await a command still get its rejection.
 */
function guardCommands(conn: Redis, onFailure: (command: string, error: Error) => void): Redis {
  const wrappers = new WeakMap<(...args: unknown[]) => unknown, (...args: unknown[]) => unknown>();
  return new Proxy(conn, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      let wrapper = wrappers.get(method);
      if (!wrapper) {
        wrapper = (...args: unknown[]) => {
          const result = method.apply(target, args);
          if (result instanceof Promise) result.catch((error: Error) => onFailure(String(property), error));
          return result;
        };
        wrappers.set(method, wrapper);
      }
      return wrapper;
    },
  });
}
