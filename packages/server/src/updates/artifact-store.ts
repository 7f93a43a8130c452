import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { BulwarkError } from "@bulwark/sdk/errors";

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
   * once more than `maxBytes` arrived. Storing the same bytes twice keeps one copy.
   */
  put(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StoredObject>;
  /** The object's bytes, or the inclusive range of them; throws BW_ERR_NOT_FOUND when absent. */
  read(sha256: string, range?: ByteRange): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Files named by their SHA-256 under `dir` (`ab/abcdef…`), 0600 in 0700 directories. An upload
 * is written to `dir/tmp`, flushed to disk (fsync) and renamed into place only once complete and
 * hashed, so a reader never sees a partial object and a crash leaves only a temporary file.
 */
export class FileArtifactStore implements ArtifactStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
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
    const sha512 = createHash("sha512");
    let length = 0;
    const file = await open(tmp, "wx", 0o600);
    try {
      for await (const chunk of source) {
        length += chunk.length;
        if (length > maxBytes)
          throw new BulwarkError("BW_ERR_PAYLOAD_TOO_LARGE", `the artifact is larger than ${maxBytes} bytes`);
        sha256.update(chunk);
        sha512.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
    } catch (error) {
      await file.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await file.close();
    const stored = { length, sha256: sha256.digest("hex"), sha512: sha512.digest("hex") };
    const target = this.#path(stored.sha256);
    await mkdir(join(this.#dir, stored.sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
    // Same bytes already stored: the rename replaces them with identical content.
    await rename(tmp, target);
    return stored;
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.#path(sha256);
    if (!(await this.has(sha256))) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such artifact");
    return createReadStream(path, range ? { start: range.start, end: range.end } : {});
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
