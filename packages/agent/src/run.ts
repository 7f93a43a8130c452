import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import type { DeviceReport } from "@bulwark/sdk/wire/reports";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import mqtt, { type MqttClient } from "mqtt";
import { type AppliedConfig, acceptConfig, loadAppliedConfig } from "./device-config.ts";
import type { AgentLog } from "./log.ts";
import { collectMetadata } from "./metadata.ts";
import { startRenewal } from "./renew.ts";
import { drainSpool, effectiveLogging } from "./security-events.ts";
import { readState, statePaths, writeAtomic } from "./state.ts";
import { pinnedRoot } from "./trust.ts";
import { startUpdates } from "./updates/start.ts";
import { ensureDataKey, sealPrivateKeyPem } from "./vault.ts";
import { acceptCommand, cryptoErase, removeRemains } from "./wipe.ts";

export interface RunOptions {
  stateDir: string;
  renewal?: { newKey?: boolean; fraction?: number };
  metadata?: Partial<DeviceMetadata>;
  signal?: AbortSignal;
  /** How often the spool and the local opt-out are checked, ms. */
  pollMs?: number;
}

/** Why `run` returned: stopped by a signal, or the device was wiped (its state is gone). */
export type RunOutcome = "stopped" | "wiped";

/** Reconnect delay: exponential backoff with full jitter (CRA Annex I Part I (2)(i): no reconnect storms). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 300_000): number {
  return Math.floor(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20)));
}

/** A key enrolled by an older agent is stored in clear: seal it under the data key now. */
function sealedKeyPem(stateDir: string, dataKey: Buffer): string {
  const path = statePaths(stateDir).key;
  const pem = readFileSync(path, "utf8");
  if (pem.includes("ENCRYPTED PRIVATE KEY")) return pem;
  const sealed = sealPrivateKeyPem(createPrivateKey(pem), dataKey);
  writeAtomic(path, sealed, 0o600);
  return sealed;
}

/**
 * Connects out over MQTT on mutual TLS 1.3 with the device certificate, reports metadata,
 * applies signed configuration, reports security events (unless opted out), obeys signed
 * commands (wipe), and keeps reconnecting with jitter until stopped or wiped.
 */
export async function run(options: RunOptions, log: AgentLog): Promise<RunOutcome> {
  const state = readState(options.stateDir);
  const paths = statePaths(options.stateDir);
  const topics = deviceTopics(state.deviceId);
  const dataKey = ensureDataKey(options.stateDir);
  const root = pinnedRoot(options.stateDir, state);
  let applied: AppliedConfig | undefined = loadAppliedConfig(options.stateDir, dataKey);
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let telemetryTimer: NodeJS.Timeout | undefined;
  let lastLogging: string | undefined;
  let stopping = false;
  let finish!: (outcome: RunOutcome) => void;
  const finished = new Promise<RunOutcome>((resolve) => {
    finish = resolve;
  });

  const tlsGroups = () => applied?.settings.tls.groups.join(":");
  const client: MqttClient = mqtt.connect(state.mqttUrl, {
    protocolVersion: 4,
    clientId: state.deviceId,
    clean: true,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    key: sealedKeyPem(options.stateDir, dataKey),
    passphrase: dataKey.toString("hex"),
    cert: readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8"),
    ca: readFileSync(paths.ca),
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    ...(tlsGroups() ? { ecdhCurve: tlsGroups() } : {}),
  } as mqtt.IClientOptions);

  // Issue #15: update jobs, downloaded over HTTPS with the same certificate.
  const updates = startUpdates({
    ...{ stateDir: options.stateDir, serverUrl: state.serverUrl, deviceId: state.deviceId, client, log },
    passphrase: dataKey.toString("hex"),
    caPem: readFileSync(paths.ca, "utf8"),
    identity: () => ({
      keyPem: sealedKeyPem(options.stateDir, dataKey),
      certChainPem: readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8"),
    }),
  });

  const send = (report: DeviceReport) =>
    client.publish(topics.events, JSON.stringify(report), { qos: 1 }, (error) => {
      if (error) log.warn("report not published", { type: report.type, reason: error.message });
    });

  const publishMetadata = () =>
    client.publish(
      topics.meta,
      JSON.stringify(collectMetadata({ ...updates.metadata(), ...options.metadata })),
      { qos: 1 },
      (error) => {
        if (error) log.warn("metadata not published", { reason: error.message });
        else log.info("metadata published");
      },
    );

  /** Security events leave only while logging is on; the opt-out itself is always reported. */
  function pumpEvents(force = false): void {
    if (!client.connected) return;
    const logging = effectiveLogging(options.stateDir, applied?.settings.securityEventLogging);
    const key = JSON.stringify(logging);
    if (force || key !== lastLogging) {
      lastLogging = key;
      send(logging);
      log.info("security-event logging", { enabled: logging.enabled, source: logging.source });
    }
    const events = drainSpool(options.stateDir, dataKey);
    if (!logging.enabled) return; // opted out: spooled events are discarded, nothing is sent
    for (const event of events) send(event);
  }

  function securityEvent(kind: "integrity-failure" | "config-changed", detail: string): void {
    const logging = effectiveLogging(options.stateDir, applied?.settings.securityEventLogging);
    if (logging.enabled) send({ type: "security-event", kind, at: new Date().toISOString(), detail });
  }

  function scheduleTelemetry(): void {
    clearInterval(telemetryTimer);
    const seconds = applied?.settings.telemetryIntervalSeconds;
    if (seconds) telemetryTimer = setInterval(publishMetadata, seconds * 1000);
  }

  function onConfig(payload: Buffer): void {
    const verdict = acceptConfig(parseJson(payload), {
      dir: options.stateDir,
      deviceId: state.deviceId,
      dataKey,
      root,
    });
    if (!verdict.ok) {
      log.warn("configuration rejected", { reason: verdict.reason });
      send({ type: "config-rejected", reason: verdict.reason });
      if (verdict.integrity) securityEvent("integrity-failure", `configuration refused: ${verdict.reason}`);
      return;
    }
    applied = verdict.config;
    // Apply: telemetry interval now, logging on the next pump, TLS groups on the next connection.
    scheduleTelemetry();
    if (tlsGroups()) (client.options as { ecdhCurve?: string }).ecdhCurve = tlsGroups();
    log.info("configuration applied", { policy: applied.policy, version: applied.version });
    send({ type: "config-applied", policy: applied.policy, version: applied.version });
    if (verdict.changed) securityEvent("config-changed", `policy ${applied.policy} v${applied.version}`);
    pumpEvents();
  }

  function onCommand(payload: Buffer): void {
    const verdict = acceptCommand(parseJson(payload), { deviceId: state.deviceId, root });
    if (!verdict.ok) {
      log.warn("command rejected", { reason: verdict.reason });
      securityEvent("integrity-failure", `command refused: ${verdict.reason}`);
      return;
    }
    const { wipeId } = verdict.command;
    log.warn("wipe requested: crypto-erasing local data", { wipeId });
    const confirmation = cryptoErase(options.stateDir, wipeId);
    client.publish(topics.jobStatus(wipeId), JSON.stringify(confirmation), { qos: 1 }, (error) => {
      if (error) log.error("wipe confirmation not sent", { reason: error.message });
      removeRemains(options.stateDir);
      log.warn("wiped", { wipeId });
      finish("wiped");
    });
  }

  client.on("connect", () => {
    attempt = 0;
    log.info("connected", { deviceId: state.deviceId, server: state.mqttUrl });
    client.subscribe([topics.cmd, topics.config, topics.jobsNotify], { qos: 1 }, (error, granted) => {
      if (error) log.warn("subscribe failed", { reason: error.message });
      else log.debug("subscribed", { granted: granted?.map((g) => ({ topic: g.topic, qos: g.qos })) });
    });
    publishMetadata();
    pumpEvents(true);
  });

  client.on("message", (topic, payload) => {
    log.info("message", { topic, bytes: payload.length });
    if (topic === topics.config) onConfig(payload);
    else if (topic === topics.cmd) onCommand(payload);
    else if (topic === topics.jobsNotify) updates.onNotify(parseJson(payload));
  });

  client.on("error", (error) => log.warn("connection error", { reason: error.message }));

  client.on("close", () => {
    if (stopping || options.signal?.aborted) return;
    const delay = backoffMs(attempt++);
    log.info("disconnected; reconnecting", { inMs: delay, attempt });
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(() => {
      if (!client.disconnecting) client.reconnect();
    }, delay);
  });

  // Issue #4: renew inside the window; reconnect with the new certificate once it is saved.
  const renewal = startRenewal({ stateDir: options.stateDir, dataKey, ...options.renewal }, log, () => {
    client.options.key = readFileSync(paths.key, "utf8");
    client.options.cert = readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8");
    client.stream?.destroy();
  });

  const poll = setInterval(() => pumpEvents(), options.pollMs ?? 1000);
  scheduleTelemetry();
  const stop = () => finish("stopped");
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  const outcome = await finished;
  stopping = true;
  renewal.stop();
  await updates.stop();
  clearInterval(poll);
  clearInterval(telemetryTimer);
  clearTimeout(reconnectTimer);
  await new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve()));
  log.info(outcome);
  return outcome;
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
}
