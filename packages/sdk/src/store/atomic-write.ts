import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * The write protocol, as an ordered list of named steps. A reader sees the old file until the
 * rename and the new one after it (rename(2) replaces atomically on POSIX file systems); fsync
 * before the rename makes the new content durable before it becomes visible, fsync of the
 * directory after it makes the rename itself durable (so a power cut cannot bring the old file back
 * after a caller was told the write succeeded).
 */
export const WRITE_STEPS = [
  "open-temp",
  "write-first-half",
  "write-second-half",
  "fsync-temp",
  "close-temp",
  "rename",
  "fsync-dir",
] as const;
export type WriteStep = (typeof WRITE_STEPS)[number];

/** Called before each step: a test seam to stop the writer there (the crash test SIGKILLs). */
export type WriteStepHook = (step: WriteStep, path: string) => void;

const TEMP_MARK = ".tmp-";

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` with `content` so that a crash at any point leaves either the old or the new file. */
export function writeFileAtomic(path: string, content: Uint8Array, hook?: WriteStepHook): void {
  const step = (s: WriteStep) => hook?.(s, path);
  const temp = join(dirname(path), `${basename(path)}${TEMP_MARK}${randomBytes(6).toString("hex")}`);
  step("open-temp");
  const fd = openSync(temp, "wx", 0o600);
  try {
    const half = content.length >> 1;
    step("write-first-half");
    writeAll(fd, content.subarray(0, half));
    step("write-second-half");
    writeAll(fd, content.subarray(half));
    step("fsync-temp");
    fsyncSync(fd);
    step("close-temp");
  } finally {
    closeSync(fd);
  }
  step("rename");
  renameSync(temp, path);
  step("fsync-dir");
  fsyncDir(dirname(path));
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Deletes `path` durably (unlink, then fsync of its directory). */
export function removeFileDurably(path: string): void {
  rmSync(path, { force: true });
  fsyncDir(dirname(path));
}

/** Removes temporary files a crashed writer left in `dir` (never renamed, so never visible); returns how many. */
export function sweepTemporaries(dir: string): number {
  const stale = readdirSync(dir).filter((name) => name.includes(TEMP_MARK));
  for (const name of stale) rmSync(join(dir, name), { force: true });
  if (stale.length) fsyncDir(dir);
  return stale.length;
}
