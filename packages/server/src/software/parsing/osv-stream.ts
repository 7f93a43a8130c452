/**
 * An OSV bundle read on a worker thread and handed to the importer in batches over a MessagePort.
 * The importer asks for each batch ("more"), so at most one batch is in flight: memory stays bounded
 * whatever the bundle's size, as it is when the bundle is read in place.
 */
import { once } from "node:events";
import type { MessagePort } from "node:worker_threads";
import { type BundleLimits, readOsvBundle } from "@bulwark/sdk/software/osv/bundle";
import type { OsvRecord } from "@bulwark/sdk/software/osv/types";
import { deserializeError, type SerializedError, serializeError } from "./tasks.ts";
import { type UnevaluableRecord, unevaluableReason } from "./unevaluable.ts";

export const OSV_BATCH = 400;

/** Records read from a bundle, with those of them matching would have to skip (named, issue #14). */
export interface OsvBatch {
  records: OsvRecord[];
  unevaluable: UnevaluableRecord[];
}

function batchOf(records: OsvRecord[]): OsvBatch {
  const unevaluable: UnevaluableRecord[] = [];
  for (const record of records) {
    const reason = unevaluableReason(record);
    if (reason !== undefined) unevaluable.push({ id: record.id, reason });
  }
  return { records, unevaluable };
}

/** A batch (with whether it is the last) or the error that ended the reading. */
export interface OsvMessage {
  batch?: OsvBatch;
  done?: boolean;
  error?: SerializedError;
}

/** Batches of records, read in place (the importer's own thread). */
export async function* osvBatchesInline(path: string, limits?: BundleLimits): AsyncGenerator<OsvBatch> {
  let batch: OsvRecord[] = [];
  for await (const { record } of readOsvBundle(path, limits)) {
    batch.push(record);
    if (batch.length >= OSV_BATCH) {
      yield batchOf(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield batchOf(batch);
}

/** Worker side: answers each "more" with the next batch until the bundle ends, fails or "stop" comes. */
export async function serveOsvBatches(port: MessagePort, path: string, limits?: BundleLimits): Promise<void> {
  const batches = osvBatchesInline(path, limits);
  try {
    for (;;) {
      // "stop", or the importer's side closed without a word: either way the reading ends.
      const request = await Promise.race([
        once(port, "message").then(([m]) => m as string),
        once(port, "close").then(() => "stop"),
      ]);
      if (request !== "more") return;
      let next: IteratorResult<OsvBatch>;
      try {
        next = await batches.next();
      } catch (e) {
        port.postMessage({ error: serializeError(e) } satisfies OsvMessage);
        return;
      }
      const batch = next.done ? { records: [], unevaluable: [] } : next.value;
      port.postMessage({ batch, done: next.done === true } satisfies OsvMessage);
      if (next.done) return;
    }
  } finally {
    await batches.return(undefined);
    port.close();
  }
}

/**
 * Importer side: asks for batches and yields them. `task` is the worker's run of serveOsvBatches; if
 * the worker dies (out of memory, killed) its rejection ends the wait instead of a message.
 */
export async function* osvBatchesFromPort(
  port: MessagePort,
  task: Promise<unknown>,
): AsyncGenerator<OsvBatch> {
  // A normal end is signalled by the last batch (done), never by the task: only a failure races it.
  const failed = task.then(
    () => new Promise<never>(() => {}),
    (e: unknown): OsvMessage => ({ error: serializeError(e) }),
  );
  try {
    for (;;) {
      port.postMessage("more");
      const message: OsvMessage = await Promise.race([
        once(port, "message").then(([m]) => m as OsvMessage),
        failed,
      ]);
      if (message.error) throw deserializeError(message.error);
      if (message.batch === undefined) throw new Error("unexpected message from the OSV reader");
      if (message.batch.records.length > 0) yield message.batch;
      if (message.done) return;
    }
  } finally {
    port.postMessage("stop");
    port.close();
    await task.catch(() => undefined);
  }
}
