import type { EncryptedStore } from "@bulwark/sdk/store";
import type { JobStatusReport } from "@bulwark/sdk/wire/jobs";
import type { TransferStatus } from "@bulwark/sdk/wire/transfer";
import type { MqttClient } from "mqtt";
import type { AgentLog } from "../log.ts";
import { OUTBOX_PREFIX, readRecord } from "./update-records.ts";

/** At most this many reports wait for their PUBACK; beyond it the oldest go (and are logged). */
export const MAX_OUTBOX = 1000;

/**
 * What goes on `jobs/{jobId}/status` through the outbox: an update job's report, or a step of a
 * secure transfer (`transfer.ts`; the server has no retry of its own for those: it sends each
 * transfer command once, so a lost answer would leave the transfer stuck).
 */
export type OutboxReport = JobStatusReport | TransferStatus;

interface Entry {
  jobId: string;
  report: OutboxReport;
}

/**
 * The job and transfer reports not yet acknowledged, kept in the encrypted store until their PUBACK (MQTT 3.1.1
 * §4.3.2: with it the server has taken ownership of the message). The agent's client connects
 * with a clean session and its own reconnect loop (`reconnectPeriod: 0`), and with those mqtt.js
 * drops the QoS 1 messages in flight when the connection is lost (`_cleanUp` → `_flush`, or, when
 * the server closed it, never sends them again nor calls back); a process restart loses them too. So a report lost with its connection is sent again, in the
 * order the reports were made, each time the client connects. A report the server had stored
 * before the connection dropped arrives twice; the server applies job reports and transfer steps
 * as forward moves only (a repeat of a state changes nothing: `applyJobReport`, `transferReport`),
 * so it is stored once.
 */
export class ReportOutbox {
  readonly #store: EncryptedStore;
  readonly #client: MqttClient;
  readonly #topic: (jobId: string) => string;
  readonly #log: AgentLog;
  readonly #max: number;
  /** Records published and waiting for their PUBACK, with the connection they went out on. */
  readonly #inFlight = new Map<string, number>();
  #connection = 0;
  #sequence = 0;
  #closed = false;

  constructor(options: {
    store: EncryptedStore;
    client: MqttClient;
    topic: (jobId: string) => string;
    log: AgentLog;
    max?: number;
  }) {
    this.#store = options.store;
    this.#client = options.client;
    this.#topic = options.topic;
    this.#log = options.log;
    this.#max = options.max ?? MAX_OUTBOX;
    // Sent again on every connection, before anything reported after it (mqtt.js emits `connect`
    // synchronously on CONNACK, before the reports queued while offline are handed to it).
    this.#client.on("connect", this.#onConnect);
    // What was in flight on a lost connection is sent again on the next: mqtt.js with a clean
    // session neither re-sends it nor, when the server closed the connection, calls back at all.
    this.#client.on("close", this.#onClose);
  }

  readonly #onConnect = () => this.flush();
  readonly #onClose = () => {
    this.#connection++;
    this.#inFlight.clear();
  };

  /**
   * Sends nothing more (the device was wiped: its store is gone). Nothing waiting is deleted: a
   * store that still exists keeps it for the next outbox on it.
   */
  close(): void {
    this.#closed = true;
    this.#client.off("connect", this.#onConnect);
    this.#client.off("close", this.#onClose);
  }

  /** Keeps the report until it is acknowledged, and sends it now if connected. */
  add(jobId: string, report: OutboxReport): void {
    if (this.#closed) return;
    // Names sort in the order of the reports (the time, then a sequence within this process).
    const name = `${OUTBOX_PREFIX}${Date.now().toString().padStart(15, "0")}-${(this.#sequence++).toString().padStart(8, "0")}`;
    this.#store.putJson("state", name, { jobId, report } satisfies Entry);
    const names = this.pending();
    if (names.length > this.#max)
      for (const old of names.slice(0, names.length - this.#max)) {
        this.#log.warn("job report dropped: too many waiting for the server", { record: old });
        this.#store.delete("state", old);
      }
    this.flush();
  }

  /** The names of the reports not yet acknowledged, oldest first. */
  pending(): string[] {
    return this.#store.list("state").filter((n) => n.startsWith(OUTBOX_PREFIX));
  }

  /** Sends, in order, every report not acknowledged and not already in flight on this connection. */
  flush(): void {
    if (this.#closed || !this.#client.connected) return; // sent on the next `connect`, not queued in mqtt.js
    for (const name of this.pending()) {
      if (this.#inFlight.has(name)) continue;
      const read = readRecord<Entry>(this.#store, name);
      if (!read.found) {
        // A record that failed authentication was reported by the store; it is not sent.
        if (read.tampered) this.#store.delete("state", name);
        continue;
      }
      const { jobId, report } = read.value;
      const connection = this.#connection;
      this.#inFlight.set(name, connection);
      this.#client.publish(this.#topic(jobId), JSON.stringify(report), { qos: 1 }, (error) => {
        if (this.#inFlight.get(name) === connection) this.#inFlight.delete(name);
        if (error) this.#log.warn("job status not acknowledged; kept", { jobId, reason: error.message });
        else if (!this.#closed) this.#store.delete("state", name);
      });
    }
  }
}
