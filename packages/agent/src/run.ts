import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { type StoreTamperEvent, toSecurityReport } from "@bulwark/sdk/store";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import type { DeviceReport } from "@bulwark/sdk/wire/reports";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { TransferCommand } from "@bulwark/sdk/wire/transfer";
import type { UserNoticeCommand } from "@bulwark/sdk/wire/user-notice";
import mqtt, { type MqttClient } from "mqtt";
import { type AppliedConfig, acceptConfig, appliedConfigOrNone } from "./device-config.ts";
import { deviceKeyPem } from "./device-store.ts";
import type { AgentLog } from "./log.ts";
import { collectMetadata } from "./metadata.ts";
import { openMigratedStore } from "./migrate.ts";
import { ownCertificateStatus } from "./own-status.ts";
import {
  backoffMs,
  connackRefusal,
  isLastingRefusal,
  type Refusal,
  refusalCause,
  refusedRetryMs,
} from "./reconnect.ts";
import { startRenewal } from "./renew.ts";
import {
  effectiveLogging,
  MAX_QUEUED_EVENTS,
  peekEvents,
  type SecurityEvent,
  takeDroppedCount,
  watchEvents,
} from "./security-events.ts";
import { readState, statePaths } from "./state.ts";
import { handleTransfer } from "./transfer.ts";
import { pinnedRoot } from "./trust.ts";
import { startUpdates } from "./updates/start.ts";
import { showUserNotice } from "./user-notice.ts";
import { acceptCommand, cryptoErase, removeRemains } from "./wipe.ts";

export interface RunOptions {
  stateDir: string;
  renewal?: { newKey?: boolean; fraction?: number };
  metadata?: Partial<DeviceMetadata>;
  signal?: AbortSignal;
  /** How often the queue and the local opt-out are checked besides watching them, ms. */
  pollMs?: number;
  /** The wait after the server refused the device (jittered over its upper half), ms; default an hour. */
  refusedRetryMs?: number;
}

/** Why `run` returned: stopped by a signal, or the device was wiped (its state is gone). */
export type RunOutcome = "stopped" | "wiped";

/**
 * Connects out over MQTT on mutual TLS 1.3 with the device certificate, reports metadata,
 * applies signed configuration, reports security events (unless opted out), obeys signed
 * commands (wipe), and keeps reconnecting with jitter until stopped or wiped.
 */
export async function run(options: RunOptions, log: AgentLog): Promise<RunOutcome> {
  const state = readState(options.stateDir);
  const paths = statePaths(options.stateDir);
  const topics = deviceTopics(state.deviceId);
  // Tampering found in the store is reported on the events topic once connected (CRA Annex I Part I (2)(f)).
  const tamperReports: SecurityEvent[] = [];
  let integrity: "ok" | "tampered" = "ok";
  const onTamper = (event: StoreTamperEvent) => {
    integrity = "tampered";
    log.error("encrypted store tampered", { location: event.location, reason: event.reason });
    tamperReports.push(toSecurityReport(event));
  };
  const store = openMigratedStore(options.stateDir, log, { onSecurityEvent: onTamper });
  const inFlight = new Set<string>();
  const root = pinnedRoot(options.stateDir, state);
  let applied: AppliedConfig | undefined = appliedConfigOrNone(store);
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let telemetryTimer: NodeJS.Timeout | undefined;
  let lastLogging: string | undefined;
  let refusal: Refusal | undefined;
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
    key: deviceKeyPem(store), // in memory only
    cert: readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8"),
    ca: readFileSync(paths.ca),
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    ...(tlsGroups() ? { ecdhCurve: tlsGroups() } : {}),
  } as mqtt.IClientOptions);

  // A security event carries an id unique on this device: one re-sent after a lost PUBACK (QoS 1 is
  // at-least-once, MQTT 3.1.1 §4.3.2) is stored once by the server.
  const withId = (report: DeviceReport): DeviceReport =>
    report.type === "security-event" && !report.id ? { ...report, id: randomUUID() } : report;
  const send = (report: DeviceReport) =>
    client.publish(topics.events, JSON.stringify(withId(report)), { qos: 1 }, (error) => {
      if (error) log.warn("report not published", { type: report.type, reason: error.message });
    });

  // Issue #15: update jobs, downloaded over HTTPS with the same certificate (read at each use: renewal replaces it).
  const updates = startUpdates({
    ...{ stateDir: options.stateDir, serverUrl: state.serverUrl, deviceId: state.deviceId, client, log },
    store,
    onMetadataChange: () => publishMetadata(),
    caPem: readFileSync(paths.ca, "utf8"),
    identity: () => ({
      keyPem: deviceKeyPem(store),
      certChainPem: readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8"),
    }),
  });

  const publishMetadata = () =>
    client.publish(
      topics.meta,
      JSON.stringify(
        collectMetadata({ ...updates.metadata(), ...options.metadata, agentIntegrity: integrity }),
      ),
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
    const queued = peekEvents(store, 100).filter((q) => !inFlight.has(q.id));
    const tampered = tamperReports.splice(0);
    const dropped = takeDroppedCount(store);
    if (!logging.enabled) {
      for (const { id } of queued) store.ack(id); // opted out: queued events are discarded, nothing is sent
      return;
    }
    for (const report of tampered) send(report);
    if (tampered.length > 0) publishMetadata(); // agentIntegrity is now "tampered"
    if (dropped > 0)
      send({
        type: "security-event",
        kind: "integrity-failure",
        at: new Date().toISOString(),
        detail: `${dropped} security events dropped while offline (the device queues at most ${MAX_QUEUED_EVENTS})`,
      });
    for (const { id, event } of queued) {
      inFlight.add(id);
      // Acknowledged in the store only once the broker has it (QoS 1 PUBACK): a lost connection loses nothing.
      // The queue entry's id (unique on the device, `EncryptedStore.enqueue`) is the event's id, so
      // every re-send of this entry (after a lost PUBACK, or after a restart) carries the same one.
      const payload = JSON.stringify({ ...event, id: event.id ?? id });
      client.publish(topics.events, payload, { qos: 1 }, (error) => {
        inFlight.delete(id);
        if (error) log.warn("event not published; kept queued", { reason: error.message });
        else store.ack(id);
      });
    }
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
      store,
      deviceId: state.deviceId,
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
    if (verdict.command.type === "user-notice") {
      void onUserNotice(verdict.command);
      return;
    }
    if (verdict.command.type !== "wipe") {
      onTransfer(verdict.command);
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

  /** Secure transfer to a replacement device (transfer.ts): answered on `jobs/{transferId}/status`. */
  function onTransfer(command: TransferCommand): void {
    const status = handleTransfer(command, {
      store,
      stateDir: options.stateDir,
      deviceId: state.deviceId,
      root,
    });
    log.info("transfer step", { transferId: command.transferId, step: command.type, outcome: status.state });
    client.publish(topics.jobStatus(command.transferId), JSON.stringify(status), { qos: 1 });
  }

  /** CRA Art. 14(8): show the notice to the user (the notification hook), then acknowledge it. */
  async function onUserNotice(notice: UserNoticeCommand): Promise<void> {
    try {
      const ack = await showUserNotice(notice, { store, stateDir: options.stateDir, log });
      client.publish(topics.jobStatus(notice.noticeId), JSON.stringify(ack), { qos: 1 }, (error) => {
        if (error) log.warn("notice acknowledgement not sent", { reason: error.message });
        else log.info("security notice acknowledged", { noticeId: notice.noticeId, hook: ack.hook });
      });
    } catch (error) {
      log.error("security notice not shown", { noticeId: notice.noticeId, reason: (error as Error).message });
    }
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

  // A CONNACK refusal comes as an error, then the close.
  client.on("error", (error) => {
    refusal = connackRefusal(error) ?? refusal;
    log.warn("connection error", { reason: error.message });
  });

  function reconnectIn(delay: number): void {
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(() => {
      if (!client.disconnecting) client.reconnect();
    }, delay);
  }

  /** Says why the server refuses the device (CONNACK and OCSP), then waits long before trying again. */
  async function refused(why: Refusal): Promise<void> {
    const status = await ownCertificateStatus(options.stateDir);
    if (stopping || options.signal?.aborted) return;
    const delay = refusedRetryMs(options.refusedRetryMs);
    log.error("connection refused by the server", {
      connack: why.returnCode,
      refusal: why.reason,
      certificate: status.kind,
      ...(status.kind === "revoked" ? { revocationReason: status.reason } : {}),
      cause: refusalCause(why, status),
      retryInMs: delay,
    });
    reconnectIn(delay);
  }

  client.on("close", () => {
    if (stopping || options.signal?.aborted) return;
    const why = refusal;
    refusal = undefined;
    if (why && isLastingRefusal(why)) {
      clearTimeout(reconnectTimer);
      void refused(why);
      return;
    }
    const delay = backoffMs(attempt++);
    log.info("disconnected; reconnecting", { inMs: delay, attempt });
    reconnectIn(delay);
  });

  // Issue #4: renew inside the window; reconnect with the new certificate once it is saved.
  const renewal = startRenewal({ stateDir: options.stateDir, store, ...options.renewal }, log, () => {
    client.options.key = deviceKeyPem(store);
    client.options.cert = readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8");
    client.stream?.destroy();
  });

  // Queued events and the opt-out are noticed as they change (inotify); the slow poll is a safety net.
  const watcher = watchEvents(options.stateDir, () => pumpEvents());
  const poll = setInterval(() => pumpEvents(), options.pollMs ?? 30_000);
  scheduleTelemetry();
  const stop = () => finish("stopped");
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  const outcome = await finished;
  stopping = true;
  renewal.stop();
  await updates.stop();
  clearInterval(poll);
  watcher.close();
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
