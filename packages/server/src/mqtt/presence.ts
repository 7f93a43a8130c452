import type { Logger } from "pino";
import { setPresences } from "../fleet/devices.ts";
import type { Store } from "../store/store.ts";

/** How often pending presence changes are written; the API shows a device online within this. */
export const PRESENCE_FLUSH_MS = 200;

/**
 * Presence (online / last seen) changes of this process, coalesced per device and written in one
 * transaction every `PRESENCE_FLUSH_MS`: a connection storm costs one commit per interval instead
 * of one per CONNECT and per close. The last change of a device in an interval wins.
 */
export class PresenceWriter {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #intervalMs: number;
  #pending = new Map<string, { online: boolean; at: number }>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  /** `instance`: the id of this server process, recorded as the holder of its devices' sessions. */
  constructor(store: Store, log: Logger, instance: string, intervalMs = PRESENCE_FLUSH_MS) {
    this.#store = store;
    this.#log = log;
    this.#instance = instance;
    this.#intervalMs = intervalMs;
  }

  /** Records that a device came online or went offline now; written by the next flush. */
  set(deviceId: string, online: boolean): void {
    if (this.#closed) return;
    this.#pending.set(deviceId, { online, at: Date.now() });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#intervalMs).unref();
  }

  /** Writes every pending change in one transaction; flushes run one after another. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = new Map();
    if (batch.size === 0) return this.#writing;
    this.#writing = this.#writing.then(() =>
      this.#store
        .transaction((tx) =>
          setPresences(
            tx,
            [...batch].map(([deviceId, change]) => ({ deviceId, ...change })),
            this.#instance,
          ),
        )
        .catch((err: unknown) => this.#log.error({ err, devices: batch.size }, "presence not stored")),
    );
    return this.#writing;
  }

  /** Writes what is pending; later changes are ignored (the store is about to close). */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
