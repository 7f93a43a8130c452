import type { Queryable, Store } from "../store/store.ts";

/**
 * Registers a step that runs once per key in the unit's transaction, after every unit of it and
 * just before COMMIT (a unit that rolls back drops its steps). Concurrent renewals each supersede a
 * certificate: their CA's CRL is then signed once for the whole group, not once per renewal.
 */
export type AtCommit = (key: string, step: (tx: Queryable) => Promise<void>) => void;

/** Runs a unit of work in a transaction: `store.transaction`, or a `GroupCommit`. */
export type Transact = <T>(fn: (tx: Queryable, atCommit: AtCommit) => Promise<T>) => Promise<T>;

type Steps = Map<string, (tx: Queryable) => Promise<void>>;

interface Pending {
  fn: (tx: Queryable, atCommit: AtCommit) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: units of work that arrive while a commit is in flight are run together in the
 * next transaction, each inside its own SAVEPOINT (SQL:1999; SQLite and PostgreSQL), so each stays
 * atomic and a failing one rolls back alone. Every caller is answered only after the shared COMMIT,
 * so nothing is acknowledged before it is durable; one fsync then covers many enrolments.
 */
export class GroupCommit {
  readonly #store: Store;
  readonly #maxBatch: number;
  readonly #windowMs: number;
  #queue: Pending[] = [];
  #flushing = false;

  constructor(store: Store, options: { maxBatch?: number; windowMs?: number } = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#windowMs = options.windowMs ?? 10;
  }

  readonly transact: Transact = <T>(fn: (tx: Queryable, atCommit: AtCommit) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      // A short collection window: SQLite commits block the event loop, so without it every
      // batch would hold one unit. The wait bounds the latency added to a lone enrolment.
      if (!this.#flushing) {
        this.#flushing = true;
        setTimeout(() => void this.#flush(), this.#windowMs);
      }
    });

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        const outcomes: { ok: boolean; value: unknown }[] = [];
        try {
          await this.#store.transaction(async (tx) => {
            const steps: Steps = new Map();
            for (const unit of batch) outcomes.push(await runInSavepoint(tx, unit.fn, steps));
            for (const step of steps.values()) await step(tx);
          });
        } catch (error) {
          for (const unit of batch) unit.reject(error);
          continue;
        }
        for (const [i, unit] of batch.entries()) {
          const outcome = outcomes[i]!;
          if (outcome.ok) unit.resolve(outcome.value);
          else unit.reject(outcome.value);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}

async function runInSavepoint(
  tx: Queryable,
  fn: (tx: Queryable, atCommit: AtCommit) => Promise<unknown>,
  steps: Steps,
): Promise<{ ok: boolean; value: unknown }> {
  const mine: Steps = new Map();
  await tx.run("SAVEPOINT bw_unit");
  try {
    const value = await fn(tx, (key, step) => void (mine.has(key) || mine.set(key, step)));
    await tx.run("RELEASE SAVEPOINT bw_unit");
    for (const [key, step] of mine) if (!steps.has(key)) steps.set(key, step);
    return { ok: true, value };
  } catch (error) {
    await tx.run("ROLLBACK TO SAVEPOINT bw_unit");
    await tx.run("RELEASE SAVEPOINT bw_unit");
    return { ok: false, value: error };
  }
}
