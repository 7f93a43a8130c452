import type { BlockList } from "node:net";
import type { Logger } from "pino";
import type { ConnectionLimits } from "../config.ts";
import { addressSet } from "./addresses.ts";
import { ConnectionBudget, type GuardOptions } from "./connection-guard.ts";
import { connectionCeiling, openFileLimit } from "./descriptor-limit.ts";

/** What one listener's guard is given; the composition root adds its name and log. */
export type Admission = Pick<GuardOptions, "budget" | "maxPerAddress" | "handshakeTimeoutMs" | "proxyFrom">;

/**
 * Admission for both listeners from the configuration: one budget shared by the MQTT and HTTPS
 * ports (descriptors are the process's), kept below the descriptor limit read now; the figures are
 * logged once at start.
 */
export function admissionFor(
  limits: ConnectionLimits,
  log: Logger,
): { mqtt: Admission; https: Admission; budget: ConnectionBudget } {
  const ceiling = connectionCeiling(limits.maxConnections, openFileLimit());
  const budget = new ConnectionBudget(ceiling.maxConnections);
  const proxyFrom: BlockList | undefined =
    limits.proxyProtocolFrom.length > 0 ? addressSet(limits.proxyProtocolFrom) : undefined;
  const figures = {
    descriptorLimit: ceiling.descriptorLimit ?? "unknown",
    reserved: ceiling.reserve,
    maxConnections: ceiling.maxConnections,
    mqttMaxPerAddress: limits.mqttMaxPerAddress,
    httpMaxPerAddress: limits.httpMaxPerAddress,
    handshakeTimeoutMs: limits.handshakeTimeoutMs,
    mqttConnectTimeoutMs: limits.mqttConnectTimeoutMs,
    httpRequestTimeoutMs: limits.httpRequestTimeoutMs,
    proxyProtocolFrom: limits.proxyProtocolFrom,
  };
  if (ceiling.lowered)
    log.warn(
      { configured: limits.maxConnections, ...figures },
      "--max-connections lowered below the descriptor limit",
    );
  else if (ceiling.descriptorLimit === undefined)
    log.warn(figures, "descriptor limit unknown; connection cap not derived from it");
  log.info(figures, "connection limits");
  const common = { budget, handshakeTimeoutMs: limits.handshakeTimeoutMs, proxyFrom };
  return {
    budget,
    mqtt: { ...common, maxPerAddress: limits.mqttMaxPerAddress },
    https: { ...common, maxPerAddress: limits.httpMaxPerAddress },
  };
}
