import { readFileSync } from "node:fs";
import { type StoreTamperEvent, toSecurityReport } from "@bulwark/sdk/store";
import type { WipeConfirmation } from "@bulwark/sdk/wire/commands";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import type { DeviceReport } from "@bulwark/sdk/wire/reports";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { TransferCommand } from "@bulwark/sdk/wire/transfer";
import type { UserNoticeCommand } from "@bulwark/sdk/wire/user-notice";
import mqtt, { type MqttClient } from "mqtt";
import { type AppliedConfig, acceptConfig, appliedConfigOrNone } from "./device-config.ts";
import { deviceKeyPem, loadDeviceKey } from "./device-store.ts";
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
  peekEvents,
  queueDroppedNotice,
  queueEvent,
  type SecurityEvent,
  takeDroppedCount,
  watchEvents,
} from "./security-events.ts";
import { readState, statePaths } from "./state.ts";
import { eraseExpiredTransferKeys, handleTransfer } from "./transfer.ts";
import { pinnedRoot } from "./trust.ts";
import { ReportOutbox } from "./updates/report-outbox.ts";
import { startUpdates } from "./updates/start.ts";
import { noticeShower } from "./user-notice.ts";
import { acceptCommand, cryptoErase, removeRemains, resumeWipe } from "./wipe.ts";
import {
  deliverWipeReceipt,
  hasWipeReceipt,
  type PendingWipeReceipt,
  removeWipeReceipt,
  signReceipt,
} from "./wipe-receipt.ts";

export interface RunOptions {
  stateDir: string;
  renewal?: { newKey?: boolean; fraction?: number };
  metadata?: Partial<DeviceMetadata>;
  signal?: AbortSignal;
  /** How often the queue and the local opt-out are checked besides watching them, ms. */
  pollMs?: number;
  /** The wait after the server refused the device (jittered over its upper half), ms; default an hour. */
  refusedRetryMs?: number;
  /** How long a wiped agent waits for the PUBACK of its MQTT confirmation before it delivers the receipt over HTTPS, ms; default `WIPE_CONFIRM_MS`. */
  wipeConfirmMs?: number;
}

/**
 * A wiped agent sends its MQTT confirmation again on every connection until the server acknowledges
 * it, for at most this long: once the server has it the device is deleted and its certificate
 * revoked, so a confirmation whose PUBACK was lost can never be acknowledged over MQTT. Then the
 * agent delivers its signed wipe receipt over HTTPS (`wipe-receipt.ts`), which the server answers
 * whether it completes the wipe now or completed it before.
 */
export const WIPE_CONFIRM_MS = 120_000;

/** Why `run` returned: stopped by a signal, or the device was wiped (its state is gone). */
export type RunOutcome = "stopped" | "wiped";

/**
 * Connects out over MQTT on mutual TLS 1.3 with the device certificate, reports metadata,
 * applies signed configuration, reports security events (unless opted out), obeys signed
 * commands (wipe), and keeps reconnecting with jitter until stopped or wiped.
 */
export async function run(options: RunOptions, log: AgentLog): Promise<RunOutcome> {
  // A wipe receipt left by an earlier run: the wipe is committed; finish the erase and deliver it.
  if (hasWipeReceipt(options.stateDir)) return resumeWipe(options.stateDir, log, options.signal);
  const state = readState(options.stateDir);
  const paths = statePaths(options.stateDir);
  const topics = deviceTopics(state.deviceId);
  // Tampering found in the store is reported as a security event (CRA Annex I Part I (2)(f)), queued
  // in the store's event queue like every other (kept until its PUBACK, across restarts). Found
  // while the store opens, or inside one of its reads, it waits here until the store can take it.
  const tamperFound: SecurityEvent[] = [];
  let integrity: "ok" | "tampered" = "ok";
  let metadataStale = false;
  const onTamper = (event: StoreTamperEvent) => {
    integrity = "tampered";
    metadataStale = true; // agentIntegrity is now "tampered"
    log.error("encrypted store tampered", { location: event.location, reason: event.reason });
    tamperFound.push(toSecurityReport(event));
    setImmediate(() => pumpEvents()); // not from inside the store's own read
  };
  const store = openMigratedStore(options.stateDir, log, { onSecurityEvent: onTamper });
  /** Queue entries published and waiting for their PUBACK, with the connection they went out on. */
  const inFlight = new Map<string, number>();
  let connection = 0;
  const root = pinnedRoot(options.stateDir, state);
  let applied: AppliedConfig | undefined = appliedConfigOrNone(store);
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let telemetryTimer: NodeJS.Timeout | undefined;
  let transferKeyTimer: NodeJS.Timeout | undefined;
  let lastLogging: string | undefined;
  let refusal: Refusal | undefined;
  let stopping = false;
  /** Set once the device is wiped: the store is gone, only the confirmation is still to be sent. */
  let wipe:
    | {
        wipeId: string;
        confirmation: WipeConfirmation;
        timer: NodeJS.Timeout;
        /** The signed receipt kept on disk, delivered over HTTPS unless the MQTT confirmation is acknowledged. */
        pending: PendingWipeReceipt | undefined;
        acknowledged: boolean;
      }
    | undefined;
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

  /*
   * What the device tells the server, and how each reaches it although the connection may drop
   * before its PUBACK or the process restart (MQTT 3.1.1 §4.3.2: only the PUBACK hands a QoS 1
   * message over; mqtt.js with a clean session and `reconnectPeriod: 0` sends nothing again itself):
   *
   * - security events, the agent's own included (tamper reports, refused configuration or command,
   *   configuration changed, the notice of events the bound dropped): queued in the encrypted store
   *   and acknowledged there only on their PUBACK (`pumpEvents`); sent again on every connection and
   *   after a restart. The queue entry's id is the event's id, so the server keeps one per id
   *   (migration 960) however often it arrives.
   * - transfer steps and update job reports: the persisted outbox (`updates/report-outbox.ts`), in
   *   order; the server moves a transfer or a job forward only, so a repeat changes nothing.
   * - `config-applied` / `config-rejected` and the user-notice acknowledgement are answers to what
   *   the server sends again on every connection (the configuration when the device subscribes to
   *   `config`, an unacknowledged notice when it subscribes to `cmd`): a lost answer is given again
   *   then, after a restart too. Not kept: a kept configuration answer could arrive after a newer
   *   one and set the server's record back. The server records the configuration answer as the
   *   device's state (a repeat writes the same values) and a notice acknowledgement once per device.
   * - the logging state (`event-logging`) is the current state, sent on every connection.
   * - the wipe confirmation: the store is erased before it is sent, so it is kept in memory and sent
   *   on every connection until its PUBACK, for at most `WIPE_CONFIRM_MS` (`onWipe`); beside it, a
   *   receipt signed with the device key before the erase is kept as a file outside the store and,
   *   unless the PUBACK came, delivered over HTTPS with no client certificate until the server
   *   answers, after a restart too (`wipe-receipt.ts`).
   */
  const send = (report: Exclude<DeviceReport, { type: "security-event" }>) =>
    client.publish(topics.events, JSON.stringify(report), { qos: 1 }, (error) => {
      if (error) log.warn("report not published", { type: report.type, reason: error.message });
    });
  const outbox = new ReportOutbox({ store, client, topic: (id) => topics.jobStatus(id), log });

  // Issue #15: update jobs, downloaded over HTTPS with the same certificate (read at each use: renewal replaces it).
  const updates = startUpdates({
    ...{ stateDir: options.stateDir, serverUrl: state.serverUrl, deviceId: state.deviceId, log },
    store,
    outbox,
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
    if (wipe) return;
    for (const report of tamperFound.splice(0)) queueEvent(store, report);
    if (!client.connected) return;
    if (metadataStale) {
      metadataStale = false;
      publishMetadata();
    }
    const logging = effectiveLogging(options.stateDir, applied?.settings.securityEventLogging);
    const key = JSON.stringify(logging);
    if (force || key !== lastLogging) {
      lastLogging = key;
      send(logging);
      log.info("security-event logging", { enabled: logging.enabled, source: logging.source });
    }
    if (!logging.enabled) {
      takeDroppedCount(store);
      // Opted out: queued events are discarded, nothing is sent.
      for (const { id } of peekEvents(store, 100)) if (!inFlight.has(id)) store.ack(id);
      return;
    }
    queueDroppedNotice(store);
    const sending = connection;
    for (const { id, event } of peekEvents(store, 100)) {
      if (inFlight.has(id)) continue;
      inFlight.set(id, sending);
      // Acknowledged in the store only once the broker has it (QoS 1 PUBACK, MQTT 3.1.1 §4.3.2): a
      // lost connection loses nothing. The queue entry's id (unique on the device,
      // `EncryptedStore.enqueue`) is the event's id, so every re-send of this entry (after a lost
      // PUBACK, or after a restart) carries the same one and the server stores it once.
      const payload = JSON.stringify({ ...event, id: event.id ?? id });
      client.publish(topics.events, payload, { qos: 1 }, (error) => {
        if (inFlight.get(id) === sending) inFlight.delete(id);
        if (error) log.warn("event not published; kept queued", { reason: error.message });
        else if (!wipe) store.ack(id);
      });
    }
  }

  /** The agent's own security events, queued like those of local components (`pumpEvents` sends them). */
  function securityEvent(kind: "integrity-failure" | "config-changed", detail: string): void {
    const logging = effectiveLogging(options.stateDir, applied?.settings.securityEventLogging);
    if (!logging.enabled) return;
    queueEvent(store, { type: "security-event", kind, at: new Date().toISOString(), detail });
    pumpEvents();
  }

  function scheduleTelemetry(): void {
    clearInterval(telemetryTimer);
    const seconds = applied?.settings.telemetryIntervalSeconds;
    if (seconds) telemetryTimer = setInterval(publishMetadata, seconds * 1000);
  }

  function onConfig(payload: Buffer): void {
    if (wipe) return;
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
    if (wipe) {
      // Wiped: only a wipe sent again is answered (with the same confirmation, nothing erased twice).
      if (verdict.ok && verdict.command.type === "wipe" && verdict.command.wipeId === wipe.wipeId)
        sendWipeConfirmation();
      return;
    }
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
    onWipe(verdict.command.wipeId);
  }

  /**
   * Crypto-erases the device, then sends the confirmation until the server acknowledges it (MQTT
   * 3.1.1 §4.3.2: only its PUBACK says the server has it): on this connection, and again on each new
   * one (mqtt.js sends nothing again itself), for at most `wipeConfirmMs`. It lives in memory only:
   * the store that could have kept it is what was erased, so a restart before the PUBACK loses it
   * (the server sends the wipe again when a device connects, but a wiped device cannot connect).
   * The server deletes the device once (a repeat finds no device and changes nothing).
   */
  function onWipe(wipeId: string): void {
    log.warn("wipe requested: crypto-erasing local data", { wipeId });
    let pending: PendingWipeReceipt | undefined;
    try {
      pending = signReceipt({
        deviceId: state.deviceId,
        wipeId,
        serverUrl: state.serverUrl,
        caPem: readFileSync(paths.ca, "utf8"),
        privateKey: loadDeviceKey(store),
        certPem: readFileSync(paths.cert, "utf8"),
      });
    } catch (error) {
      // Never stands in the way of the erase: only the MQTT confirmation is left to tell the server.
      log.error("wipe receipt not signed; erasing all the same", {
        wipeId,
        reason: (error as Error).message,
      });
    }
    const confirmation = cryptoErase(options.stateDir, wipeId, pending);
    // The store is gone: nothing reads or writes it from here on.
    outbox.close();
    renewal.stop();
    clearTimeout(transferKeyTimer);
    clearInterval(poll);
    watcher.close();
    clearInterval(telemetryTimer);
    const waitMs = options.wipeConfirmMs ?? WIPE_CONFIRM_MS;
    const timer = setTimeout(() => {
      log.warn("wipe confirmation not acknowledged over MQTT in time; delivering the signed receipt", {
        wipeId,
        waitMs,
      });
      wiped();
    }, waitMs);
    wipe = { wipeId, confirmation, timer, pending, acknowledged: false };
    sendWipeConfirmation();
  }

  function sendWipeConfirmation(): void {
    if (!wipe || !client.connected) return;
    const { wipeId, confirmation } = wipe;
    const current = wipe;
    client.publish(topics.jobStatus(wipeId), JSON.stringify(confirmation), { qos: 1 }, (error) => {
      if (error)
        log.warn("wipe confirmation not acknowledged; sent again on the next connection", { wipeId });
      else {
        current.acknowledged = true;
        wiped();
      }
    });
  }

  const wiped = () => finish("wiped");

  /** Secure transfer to a replacement device (transfer.ts): answered on `jobs/{transferId}/status`. */
  function onTransfer(command: TransferCommand): void {
    const status = handleTransfer(command, {
      store,
      stateDir: options.stateDir,
      deviceId: state.deviceId,
      root,
    });
    log.info("transfer step", { transferId: command.transferId, step: command.type, outcome: status.state });
    // Kept in the store until its PUBACK, across reconnects and restarts: the server sends the
    // command again on each reconnect until this step arrives (a repeat is answered alike, above).
    outbox.add(command.transferId, status);
    sweepTransferKeys();
  }

  /**
   * A transfer that failed before its import leaves its one-time key here until the end the server
   * signed into its `transfer-prepare`: erased then (the timer is armed for the next one to expire).
   */
  function sweepTransferKeys(): void {
    clearTimeout(transferKeyTimer);
    if (wipe || stopping) return;
    const { erased, next } = eraseExpiredTransferKeys(store);
    for (const transferId of erased)
      log.info("transfer key erased: the transfer is past its end", { transferId });
    // setTimeout takes at most 2^31 - 1 ms; a later expiry is looked at again then.
    if (next !== undefined)
      transferKeyTimer = setTimeout(sweepTransferKeys, Math.min(next - Date.now() + 1, 2 ** 31 - 1));
  }

  const showNotice = noticeShower({ store, stateDir: options.stateDir, log });

  /** CRA Art. 14(8): show the notice to the user (the notification hook), then acknowledge it (`noticeShower`). */
  async function onUserNotice(notice: UserNoticeCommand): Promise<void> {
    try {
      const ack = await showNotice(notice);
      if (wipe) return;
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
    // Wiped: no subscription (nothing more to obey), only the confirmation still owed.
    if (wipe) {
      sendWipeConfirmation();
      return;
    }
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
    // What was in flight on the lost connection goes again on the next (mqtt.js, with a clean session
    // and no reconnect period of its own, neither re-sends it nor, when the server closed the
    // connection, calls back).
    connection++;
    inFlight.clear();
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
  sweepTransferKeys();
  const stop = () => finish("stopped");
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  let outcome = await finished;
  stopping = true;
  outbox.close();
  if (wipe) {
    // Stopped while the confirmation was still owed: the erase is done all the same.
    outcome = "wiped";
    clearTimeout(wipe.timer);
    removeRemains(options.stateDir);
    if (wipe.acknowledged) removeWipeReceipt(options.stateDir);
    log.warn("wiped", { wipeId: wipe.wipeId });
  }
  renewal.stop();
  await updates.stop();
  clearInterval(poll);
  watcher.close();
  clearInterval(telemetryTimer);
  clearTimeout(transferKeyTimer);
  clearTimeout(reconnectTimer);
  // Stopping waits for no PUBACK: what matters is kept in the store until its PUBACK, or is sent
  // again by the server itself (see `send`). A message mqtt.js still holds from a lost connection is
  // never acknowledged (it is not sent again), and a graceful `end` would wait for it forever.
  for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
  await new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve()));
  // Not acknowledged over MQTT: the receipt goes over HTTPS until answered (or, stopped, at the next start).
  if (wipe?.pending && !wipe.acknowledged)
    await deliverWipeReceipt(options.stateDir, wipe.pending, log, { signal: options.signal });
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
