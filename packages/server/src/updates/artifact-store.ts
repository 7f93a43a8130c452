import { createHash, randomUUID } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { BulwarkError } from "@bulwark/sdk/errors";
import { DEFAULT_HOT_OBJECT_LIMITS, type HotObjectLimits, HotObjects, streamOf } from "./hot-objects.ts";
import { sha512OffThread } from "./sha512-thread.ts";

/** What the store knows of one stored object: its length and both digests (hex). */
export interface StoredObject {
  length: number;
  sha256: string;
  sha512: string;
}

/** An inclusive byte range (RFC 9110 §14.1.2: first-pos and last-pos). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The `ArtifactStore` port: content-addressed storage of update artifacts, keyed by SHA-256.
 * `FileArtifactStore` keeps them under the data directory; an S3-compatible store can follow.
 */
export interface ArtifactStore {
  /**
   * Streams `source` in, computing SHA-256 and SHA-512 as it passes; refuses (and keeps nothing)
   * once more than `maxBytes` arrived. Storing the same bytes twice keeps one copy. The source
   * must not reuse a chunk's memory once it has yielded it (as no `Readable` does).
   */
  put(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StoredObject>;
  /** The object's bytes, or the inclusive range of them; throws BW_ERR_NOT_FOUND when absent. */
  read(sha256: string, range?: ByteRange): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** How much one read of a stored object takes from disk while it is streamed out. */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Files named by their SHA-256 under `dir` (`ab/abcdef…`), 0600 in 0700 directories. An upload
 * is written to `dir/tmp`, flushed to disk (fsync) and renamed into place only once complete and
 * hashed, so a reader never sees a partial object and a crash leaves only a temporary file.
 */
export class FileArtifactStore implements ArtifactStore {
  readonly #dir: string;
  readonly #hot: HotObjects;

  constructor(dir: string, hotLimits: HotObjectLimits = DEFAULT_HOT_OBJECT_LIMITS) {
    this.#dir = dir;
    this.#hot = new HotObjects(hotLimits);
  }

  #path(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such artifact");
    return join(this.#dir, sha256.slice(0, 2), sha256);
  }

  async put(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StoredObject> {
    const tmpDir = join(this.#dir, "tmp");
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, randomUUID());
    const sha256 = createHash("sha256");
    const sha512 = sha512OffThread();
    let length = 0;
    const file = await open(tmp, "wx", 0o600);
    const writes = new WriteBehind(file);
    let sha512Hex: string;
    try {
      for await (const chunk of source) {
        length += chunk.length;
        if (length > maxBytes)
          throw new BulwarkError("BW_ERR_PAYLOAD_TOO_LARGE", `the artifact is larger than ${maxBytes} bytes`);
        // Three things at once for each chunk: SHA-512 on the hashing thread, the write on the
        // libuv pool, SHA-256 here; each waits only when its own bound of bytes is in flight.
        const hashed = sha512.update(chunk);
        sha256.update(chunk);
        await writes.write(chunk, length - chunk.length);
        await hashed;
      }
      await writes.drain();
      await file.sync();
      sha512Hex = await sha512.digest();
    } catch (error) {
      sha512.abort();
      await writes.settle();
      await file.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await file.close();
    const stored = { length, sha256: sha256.digest("hex"), sha512: sha512Hex };
    const target = this.#path(stored.sha256);
    await mkdir(join(this.#dir, stored.sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
    // Same bytes already stored: the rename replaces them with identical content.
    await rename(tmp, target);
    return stored;
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    const kept = this.#hot.get(sha256);
    if (kept) return streamOf(kept, range);
    // One open instead of a stat and then the stream's own open (issue #15 item 9: a rollout
    // serves the same object to every device, and the stat was ~4 % of the server's busy time).
    let file: FileHandle;
    try {
      file = await open(this.#path(sha256), "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such artifact");
      throw error;
    }
    let size: number;
    try {
      ({ size } = await file.stat());
    } catch (error) {
      await file.close();
      throw error;
    }
    if (this.#hot.fits(size)) {
      let bytes: Buffer;
      try {
        bytes = await file.readFile();
      } finally {
        await file.close();
      }
      this.#hot.set(sha256, bytes);
      return streamOf(bytes, range);
    }
    // 256 KiB reads instead of the default 64 KiB: a quarter of the read calls and stream turns
    // per download; TLS still cuts the bytes into its 16 KiB records (RFC 8446 §5.1).
    return file.createReadStream({ highWaterMark: READ_CHUNK_BYTES, ...(range ?? {}) });
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.#path(sha256))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw error;
    }
  }
}

/**
 * Positional writes kept in flight behind the hashing (at most `maxInFlight` bytes), with an
 * `fdatasync` every `syncEvery` bytes so the disk writes back while the stream still arrives
 * instead of all at the final fsync (Linux holds up to `dirty_background_ratio` of RAM dirty
 * before it starts on its own). Durability is still the caller's final `sync()`.
 */
class WriteBehind {
  readonly #file: FileHandle;
  readonly #maxInFlight: number;
  readonly #syncEvery: number;
  #inFlight = 0;
  #sinceSync = 0;
  #pending = new Set<Promise<void>>();
  #failure: unknown;

  constructor(file: FileHandle, maxInFlight = 16 * 1024 * 1024, syncEvery = 64 * 1024 * 1024) {
    this.#file = file;
    this.#maxInFlight = maxInFlight;
    this.#syncEvery = syncEvery;
  }

  #track(operation: Promise<unknown>, bytes: number): void {
    this.#inFlight += bytes;
    const tracked: Promise<void> = operation.then(
      () => {
        this.#inFlight -= bytes;
        this.#pending.delete(tracked);
      },
      (error: unknown) => {
        this.#failure ??= error;
        this.#inFlight -= bytes;
        this.#pending.delete(tracked);
      },
    );
    this.#pending.add(tracked);
  }

  async write(chunk: Uint8Array, position: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#track(this.#file.write(chunk, 0, chunk.length, position), chunk.length);
    this.#sinceSync += chunk.length;
    if (this.#sinceSync >= this.#syncEvery) {
      this.#sinceSync = 0;
      this.#track(this.#file.datasync(), 0);
    }
    while (this.#inFlight > this.#maxInFlight && this.#pending.size > 0) await Promise.race(this.#pending);
    if (this.#failure) throw this.#failure;
  }

  async drain(): Promise<void> {
    await this.settle();
    if (this.#failure) throw this.#failure;
  }

  /** Waits for every operation in flight, failed or not (before the file is closed). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}
