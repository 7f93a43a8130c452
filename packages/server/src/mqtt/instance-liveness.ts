import type { Logger } from "pino";
import type { Store } from "../store/store.ts";

/** How often a server process proves it is alive; it counts as dead after three missed beats. */
export const DEFAULT_HEARTBEAT_MS = 10_000;
const MISSED_BEATS = 3;
/** Every this many beats, a sweep also looks for online devices with no live holder. */
const ORPHAN_SWEEP_EVERY = 30;

/**
 * Liveness of the server processes that hold device sessions (issue #5, scale-out). Each process
 * writes a heartbeat to `server_instances`; each also sweeps: devices shown online whose session is
 * held by a process that stopped beating (killed, crashed, cut off), or by no process at all, are
 * shown offline. A process that was swept while alive (a long stall) finds its row gone at its next
 * beat and writes the presence of its live sessions again.
 */
export class InstanceLiveness {
  readonly id: string;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #heartbeatMs: number;
  readonly #liveDevices: () => Iterable<string>;
  readonly #reassert: (deviceIds: Iterable<string>) => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> = Promise.resolve();
  #beats = 0;

  constructor(options: {
    id: string;
    store: Store;
    log: Logger;
    heartbeatMs?: number;
    /** The devices with a live session on this process. */
    liveDevices: () => Iterable<string>;
    /** Writes these devices as online on this process again. */
    reassert: (deviceIds: Iterable<string>) => Promise<void>;
  }) {
    this.id = options.id;
    this.#store = options.store;
    this.#log = options.log;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#liveDevices = options.liveDevices;
    this.#reassert = options.reassert;
  }

  get staleAfterMs(): number {
    return this.#heartbeatMs * MISSED_BEATS;
  }

  /** Whether the process with this id beat within the last three intervals (it holds its sessions). */
  async isAlive(id: string, now = Date.now()): Promise<boolean> {
    const row = await this.#store.get<{ heartbeat_at: number }>(
      `SELECT heartbeat_at FROM server_instances WHERE id = ?`,
      [id],
    );
    return row !== undefined && Number(row.heartbeat_at) >= now - this.staleAfterMs;
  }

  async start(): Promise<void> {
    const now = Date.now();
    await this.#store.run(`INSERT INTO server_instances (id, started_at, heartbeat_at) VALUES (?, ?, ?)`, [
      this.id,
      now,
      now,
    ]);
    await this.sweep(now, true);
    this.#timer = setInterval(() => {
      this.#beat = this.#beat.then(() =>
        this.beat().catch((err: unknown) => this.#log.error({ err }, "server heartbeat failed")),
      );
    }, this.#heartbeatMs).unref();
  }

  /** One heartbeat, then one sweep. */
  async beat(now = Date.now()): Promise<void> {
    const { changes } = await this.#store.run(`UPDATE server_instances SET heartbeat_at = ? WHERE id = ?`, [
      now,
      this.id,
    ]);
    if (changes === 0) {
      // Swept as dead while alive: come back and show this process's sessions online again.
      await this.#store.run(`INSERT INTO server_instances (id, started_at, heartbeat_at) VALUES (?, ?, ?)`, [
        this.id,
        now,
        now,
      ]);
      await this.#reassert(this.#liveDevices());
      this.#log.warn({ instance: this.id }, "this server process was taken for dead; presence restored");
    }
    this.#beats++;
    await this.sweep(now, this.#beats % ORPHAN_SWEEP_EVERY === 0);
  }

  /**
   * Shows offline the devices held by processes that missed three beats, and forgets those
   * processes (through the `connected_to` index: cost follows the dead processes' devices, not the
   * fleet). At start and every `ORPHAN_SWEEP_EVERY` beats it also shows offline devices online
   * with no live holder at all (a scan of the online devices).
   */
  async sweep(now = Date.now(), orphans = false): Promise<number> {
    const cutoff = now - this.staleAfterMs;
    const swept = await this.#store.transaction(async (tx) => {
      let changed = 0;
      const dead = await tx.all<{ id: string }>(`SELECT id FROM server_instances WHERE heartbeat_at < ?`, [
        cutoff,
      ]);
      for (const { id } of dead) {
        changed += (
          await tx.run(`UPDATE devices SET online = 0, connected_to = NULL WHERE connected_to = ?`, [id])
        ).changes;
        await tx.run(`DELETE FROM server_instances WHERE id = ?`, [id]);
      }
      if (orphans)
        changed += (
          await tx.run(
            `UPDATE devices SET online = 0, connected_to = NULL
             WHERE online = 1 AND (connected_to IS NULL OR connected_to NOT IN (SELECT id FROM server_instances))`,
          )
        ).changes;
      return changed;
    });
    if (swept > 0) this.#log.info({ devices: swept }, "devices of stopped server processes shown offline");
    return swept;
  }

  /** Graceful stop: this process's devices are offline, and its row is gone. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beat;
    await this.#store.transaction(async (tx) => {
      await tx.run(`UPDATE devices SET online = 0, connected_to = NULL WHERE connected_to = ?`, [this.id]);
      await tx.run(`DELETE FROM server_instances WHERE id = ?`, [this.id]);
    });
  }
}
