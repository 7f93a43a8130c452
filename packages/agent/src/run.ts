import { readFileSync } from "node:fs";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import mqtt, { type MqttClient } from "mqtt";
import type { AgentLog } from "./log.ts";
import { collectMetadata } from "./metadata.ts";
import { startRenewal } from "./renew.ts";
import { readState, statePaths } from "./state.ts";

export interface RunOptions {
  stateDir: string;
  renewal?: { newKey?: boolean; fraction?: number };
  metadata?: Partial<DeviceMetadata>;
  signal?: AbortSignal;
}

/** Reconnect delay: exponential backoff with full jitter (CRA Annex I Part I (2)(i): no reconnect storms). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 300_000): number {
  return Math.floor(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20)));
}

/**
 * Connects out over MQTT on mutual TLS 1.3 with the device certificate, reports metadata,
 * listens on its own topics, and keeps reconnecting with jitter until stopped.
 */
export async function run(options: RunOptions, log: AgentLog): Promise<void> {
  const state = readState(options.stateDir);
  const paths = statePaths(options.stateDir);
  const topics = deviceTopics(state.deviceId);
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;

  const client: MqttClient = mqtt.connect(state.mqttUrl, {
    protocolVersion: 4,
    clientId: state.deviceId,
    clean: true,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    key: readFileSync(paths.key),
    cert: readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8"),
    ca: readFileSync(paths.ca),
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  } as mqtt.IClientOptions);

  client.on("connect", () => {
    attempt = 0;
    log.info("connected", { deviceId: state.deviceId, server: state.mqttUrl });
    client.subscribe([topics.cmd, topics.config, topics.jobsNotify], { qos: 1 }, (error, granted) => {
      if (error) log.warn("subscribe failed", { reason: error.message });
      else log.debug("subscribed", { granted: granted?.map((g) => ({ topic: g.topic, qos: g.qos })) });
    });
    client.publish(topics.meta, JSON.stringify(collectMetadata(options.metadata)), { qos: 1 }, (error) => {
      if (error) log.warn("metadata not published", { reason: error.message });
      else log.info("metadata published");
    });
  });

  // Issue #4: renew inside the window; reconnect with the new certificate once it is saved.
  const renewal = startRenewal({ stateDir: options.stateDir, ...options.renewal }, log, () => {
    client.options.key = readFileSync(paths.key);
    client.options.cert = readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8");
    client.stream?.destroy();
  });

  client.on("message", (topic, payload) => {
    log.info("message", { topic, bytes: payload.length });
  });

  client.on("error", (error) => log.warn("connection error", { reason: error.message }));

  client.on("close", () => {
    if (options.signal?.aborted) return;
    const delay = backoffMs(attempt++);
    log.info("disconnected; reconnecting", { inMs: delay, attempt });
    clearTimeout(timer);
    timer = setTimeout(() => client.reconnect(), delay);
  });

  await new Promise<void>((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      renewal.stop();
      client.end(false, {}, () => resolve());
    };
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener("abort", stop, { once: true });
  });
  log.info("stopped");
}
