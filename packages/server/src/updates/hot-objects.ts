import { Readable } from "node:stream";

/** Limits of the in-memory copies of small stored objects. */
export interface HotObjectLimits {
  /** All copies together, in bytes; 0 keeps none. */
  maxBytes: number;
  /** Larger objects are always streamed from disk. */
  maxObjectBytes: number;
}

export const DEFAULT_HOT_OBJECT_LIMITS: HotObjectLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxObjectBytes: 8 * 1024 * 1024,
};

/**
 * The bytes of recently read small objects, least recently used dropped first. A rollout serves one
 * object to every device of a fleet: from memory, a download costs no open, read and close on the
 * event loop (issue #15 item 9: those were ~18 % of the server's busy time at 2,000 devices).
 * Objects are content-addressed and never change under their key, so a copy cannot go stale.
 */
export class HotObjects {
  readonly #limits: HotObjectLimits;
  readonly #objects = new Map<string, Buffer>();
  #bytes = 0;

  constructor(limits: HotObjectLimits = DEFAULT_HOT_OBJECT_LIMITS) {
    this.#limits = limits;
  }

  /** Whether an object of `length` bytes would be kept. */
  fits(length: number): boolean {
    return length <= this.#limits.maxObjectBytes && length <= this.#limits.maxBytes;
  }

  get(key: string): Buffer | undefined {
    const bytes = this.#objects.get(key);
    if (bytes) {
      // Map order is insertion order: re-inserting marks the object most recently used.
      this.#objects.delete(key);
      this.#objects.set(key, bytes);
    }
    return bytes;
  }

  set(key: string, bytes: Buffer): void {
    if (!this.fits(bytes.length) || this.#objects.has(key)) return;
    this.#objects.set(key, bytes);
    this.#bytes += bytes.length;
    for (const [oldest, old] of this.#objects) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#objects.delete(oldest);
      this.#bytes -= old.length;
    }
  }
}

/** How much of a kept object one stream chunk carries, so the response still sees backpressure. */
const CHUNK_BYTES = 256 * 1024;

/** The object's bytes (or the inclusive range of them) as a stream of views, without copying. */
export function streamOf(bytes: Buffer, range?: { start: number; end: number }): Readable {
  const part = range ? bytes.subarray(range.start, range.end + 1) : bytes;
  function* chunks(): Generator<Buffer> {
    for (let at = 0; at < part.length; at += CHUNK_BYTES) yield part.subarray(at, at + CHUNK_BYTES);
  }
  return Readable.from(chunks(), { objectMode: false });
}
