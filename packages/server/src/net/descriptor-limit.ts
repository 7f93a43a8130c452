import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * The process's limit on open descriptors (RLIMIT_NOFILE, soft), read at start without a native
 * addon: from /proc/self/limits on Linux, else from `ulimit -n` in a shell (the shell inherits
 * this process's limits; Node raises the soft limit to the hard one when it starts). `Infinity`
 * when unlimited, `undefined` when neither source answers.
 */
export function openFileLimit(procLimits = "/proc/self/limits"): number | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(procLimits, "utf8");
  } catch {
    return fromShell();
  }
  const line = /^Max open files\s+(\S+)/m.exec(text);
  return line ? parseLimit(line[1]!) : undefined;
}

function fromShell(): number | undefined {
  try {
    return parseLimit(
      execFileSync("/bin/sh", ["-c", "ulimit -n"], { encoding: "utf8", timeout: 5000 }).trim(),
    );
  } catch {
    return undefined;
  }
}

function parseLimit(value: string): number | undefined {
  if (value === "unlimited") return Number.POSITIVE_INFINITY;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Descriptors kept back from client connections: store, Redis, log, files served, webhooks. */
export const reserveFor = (limit: number): number => Math.max(128, Math.ceil(limit * 0.1));

/** Used when the limit is unknown or unlimited and no cap is configured. */
export const FALLBACK_MAX_CONNECTIONS = 10_000;

export interface ConnectionCeiling {
  descriptorLimit: number | undefined;
  reserve: number;
  maxConnections: number;
  /** The configured cap was above the limit minus the reserve and was lowered to it. */
  lowered: boolean;
}

/**
 * The global cap on client connections: the configured one, or by default the descriptor limit
 * less a reserve; never above that, so a connection flood meets the cap before EMFILE.
 */
export function connectionCeiling(
  configured: number | undefined,
  limit: number | undefined,
): ConnectionCeiling {
  if (limit === undefined || limit === Number.POSITIVE_INFINITY)
    return {
      descriptorLimit: limit,
      reserve: 0,
      maxConnections: configured ?? FALLBACK_MAX_CONNECTIONS,
      lowered: false,
    };
  const reserve = reserveFor(limit);
  const room = Math.max(1, limit - reserve);
  const maxConnections = Math.min(configured ?? room, room);
  return {
    descriptorLimit: limit,
    reserve,
    maxConnections,
    lowered: configured !== undefined && configured > room,
  };
}
