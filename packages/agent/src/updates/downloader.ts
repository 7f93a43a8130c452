import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { request } from "node:https";

export interface DownloadTls {
  ca: string;
  cert: string;
  key: string;
}

export interface DownloadSpec {
  url: string;
  /** Where the finished file goes; `{dest}.part` holds the bytes so far (kept across restarts). */
  dest: string;
  length: number;
  /** Expected digests (hex) by algorithm: sha256 and/or sha512, all checked (TUF spec §5.7.3). */
  hashes: Record<string, string>;
  tls: DownloadTls;
  /** Bounded retries after a dropped connection or a 5xx, each resuming where it stopped. */
  retries?: number;
  backoffMs?: (attempt: number) => number;
  onProgress?: (bytes: number, total: number) => void;
  signal?: AbortSignal;
}

export class DownloadError extends Error {
  readonly retryable: boolean;
  /** The server sent the whole file to a range request: start over from byte 0. */
  readonly restart: boolean;
  constructor(message: string, retryable: boolean, restart = false) {
    super(message);
    this.retryable = retryable;
    this.restart = restart;
  }
}

const SUPPORTED = ["sha256", "sha512"];

/** Hashes the partial file so the digests continue where the bytes do. */
async function resumeHashes(part: string, algorithms: string[]): Promise<{ hashes: Hash[]; size: number }> {
  const hashes = algorithms.map((a) => createHash(a));
  let size = 0;
  try {
    size = (await stat(part)).size;
  } catch {
    return { hashes, size: 0 };
  }
  for await (const chunk of createReadStream(part)) for (const h of hashes) h.update(chunk as Buffer);
  return { hashes, size };
}

/** One HTTP request from byte `from` (RFC 9110 §14.2 Range, If-Range against the content's ETag). */
function fetchFrom(
  spec: DownloadSpec,
  from: number,
  append: (chunk: Buffer) => Promise<void>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
    const req = request(
      spec.url,
      { ...spec.tls, minVersion: "TLSv1.3", agent: false, headers, signal: spec.signal, timeout: 30_000 },
      (res) => {
        const status = res.statusCode ?? 0;
        if ((from > 0 && status !== 206) || (from === 0 && status !== 200)) {
          res.resume();
          const restart = from > 0 && status === 200;
          reject(
            new DownloadError(
              `HTTP ${status}${from > 0 ? " to a range request" : ""}`,
              status >= 500 || restart,
              restart,
            ),
          );
          return;
        }
        let chain = Promise.resolve();
        res.on("data", (chunk: Buffer) => {
          res.pause();
          // A refused chunk (past the listed length) ends the connection: nothing more is read.
          chain = chain
            .then(() => append(chunk))
            .then(
              () => void res.resume(),
              (error: unknown) => {
                req.destroy();
                reject(error);
              },
            );
        });
        res.on("end", () => void chain.then(resolve, reject));
        res.on("error", (error) => reject(new DownloadError(error.message, true)));
        res.on("aborted", () => reject(new DownloadError("connection dropped", true)));
      },
    );
    req.on("timeout", () => req.destroy(new DownloadError("no data for 30 s", true)));
    req.on("error", (error) =>
      reject(error instanceof DownloadError ? error : new DownloadError(error.message, true)),
    );
    req.end();
  });
}

/**
 * Downloads a target over mutual TLS with resume: the bytes so far stay in `{dest}.part` across
 * network drops and reboots, each retry asks only for the rest (HTTP Range), the length limit
 * and every digest are enforced while streaming (endless data stops at the listed length), and
 * the file is renamed into place only once complete and verified.
 */
export async function downloadWithResume(spec: DownloadSpec): Promise<string> {
  const algorithms = Object.keys(spec.hashes).filter((a) => SUPPORTED.includes(a));
  if (algorithms.length === 0) throw new DownloadError("the target lists no supported hash", false);
  const part = `${spec.dest}.part`;
  // Already downloaded (a job resumed after its deferral): kept only if it still verifies.
  const done = await resumeHashes(spec.dest, algorithms);
  if (
    done.size === spec.length &&
    algorithms.every((a, i) => done.hashes[i]!.digest("hex") === spec.hashes[a])
  )
    return spec.dest;
  const retries = spec.retries ?? 5;
  for (let attempt = 0; ; attempt++) {
    const { hashes, size } = await resumeHashes(part, algorithms);
    if (size > spec.length) {
      await rm(part, { force: true });
      continue;
    }
    let got = size;
    const file = await open(part, "a", 0o600);
    try {
      if (got < spec.length)
        await fetchFrom(spec, got, async (chunk) => {
          if (got + chunk.length > spec.length)
            throw new DownloadError(`more than the ${spec.length} bytes listed`, false);
          await file.write(chunk);
          for (const h of hashes) h.update(chunk);
          got += chunk.length;
          spec.onProgress?.(got, spec.length);
        });
      await file.sync();
    } catch (error) {
      await file.close();
      const retryable = error instanceof DownloadError ? error.retryable : true;
      if (!retryable || (error instanceof DownloadError && error.restart)) await rm(part, { force: true });
      if (!retryable || attempt >= retries || spec.signal?.aborted) throw error;
      await new Promise((r) =>
        setTimeout(r, spec.backoffMs?.(attempt) ?? Math.min(30_000, 500 * 2 ** attempt)),
      );
      continue;
    }
    await file.close();
    if (got !== spec.length) {
      if (attempt >= retries) throw new DownloadError(`got ${got} of ${spec.length} bytes`, true);
      continue;
    }
    const mismatch = algorithms.find((a, i) => hashes[i]!.digest("hex") !== spec.hashes[a]);
    if (mismatch) {
      await rm(part, { force: true });
      throw new DownloadError(`the ${mismatch} digest does not match the signed metadata`, false);
    }
    await rename(part, spec.dest);
    return spec.dest;
  }
}
