import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
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
/** Creating a file that must not exist yet: the same, with link(2) (fails if the name is taken) for rename. */
export const CREATE_STEPS = [
  "open-temp",
  "write-first-half",
  "write-second-half",
  "fsync-temp",
  "close-temp",
  "link",
  "unlink-temp",
  "fsync-dir",
] as const;
export type WriteStep = (typeof WRITE_STEPS)[number] | (typeof CREATE_STEPS)[number];

/** Called before each step: a test seam to stop the writer there (the crash test SIGKILLs). */
export type WriteStepHook = (step: WriteStep, path: string) => void;

const TEMP_MARK = ".tmp-";
// The writer's pid is in the name, so a sweep removes only what a dead writer left.
const tempOf = (path: string) =>
  join(dirname(path), `${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString("hex")}`);

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
  const temp = writeTemp(path, content, step);
  step("rename");
  renameSync(temp, path);
  step("fsync-dir");
  fsyncDir(dirname(path));
}

/**
 * Creates `path` with `content` unless it exists: link(2) never replaces, so of two processes
 * creating the same file exactly one wins. Returns false (and leaves the winner's file) if it lost.
 */
export function createFileExclusive(path: string, content: Uint8Array, hook?: WriteStepHook): boolean {
  const step = (s: WriteStep) => hook?.(s, path);
  const temp = writeTemp(path, content, step);
  let created = true;
  step("link");
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    created = false;
  }
  step("unlink-temp");
  rmSync(temp, { force: true });
  step("fsync-dir");
  fsyncDir(dirname(path));
  return created;
}

function writeTemp(path: string, content: Uint8Array, step: (s: WriteStep) => void): string {
  const temp = tempOf(path);
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
  return temp;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Deletes `path` durably (unlink, then fsync of its directory). */
export function removeFileDurably(path: string): void {
  rmSync(path, { force: true });
  fsyncDir(dirname(path));
}

const alive = (pid: number) => {
  if (pid === process.pid) return false; // this process has no write in flight while it opens a store
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Removes temporary files that writers which no longer run left in `dir` (never renamed, so never
 * visible); a live writer's temporary file is left alone. Returns how many were removed.
 */
export function sweepTemporaries(dir: string): number {
  const stale = readdirSync(dir).filter((name) => {
    const pid = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    return name.includes(TEMP_MARK) && (pid === undefined || !alive(Number(pid)));
  });
  for (const name of stale) rmSync(join(dir, name), { force: true });
  if (stale.length) fsyncDir(dir);
  return stale.length;
}
