import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseSettingsText, settingsFile } from "./settings.ts";

/**
 * Changes `{stateDir}/updates.json` for `bulwark-agent updates settings`: read, change, write
 * under a lock, so two commands run at once both land (neither write is lost), and so a crash
 * at any step leaves the old file or the new one, never a mix.
 *
 * The lock is `updates.json.lock`, made by link(2) from a temporary file holding `PID TOKEN`
 * (link never replaces, so of two takers exactly one wins, and the lock never exists empty). A
 * lock whose process no longer runs (a command killed while it held it, or a power cut) is stale:
 * it is renamed aside (only one taker can rename a given file) and removed if it is still the one
 * judged stale, put back otherwise. Before its rename the holder checks the lock is still its own.
 * What is left: a stale lock found by three commands within the same few microseconds could let
 * two of them through; a crash while holding the lock is needed first.
 *
 * The write: a temporary file beside it with the old file's mode (0600 for a new file, the file
 * names commands the agent runs) and, run as root, its owner; written, fsynced, renamed over the
 * file (rename(2) is atomic), then the directory fsynced.
 */
export const WRITE_STEPS = [
  "lock",
  "read",
  "open-temp",
  "write",
  "fsync-temp",
  "rename",
  "fsync-dir",
] as const;
export type SettingsWriteStep = (typeof WRITE_STEPS)[number];

export interface UpdateOptions {
  /** How long to wait for another command's lock, ms (default 5 s). */
  lockTimeoutMs?: number;
  /** Called before each step: a test seam to stop there as a crash would. */
  step?: (step: SettingsWriteStep) => void;
}

export class SettingsLockBusy extends Error {}

/**
 * Applies `change` to the file's object (an empty one when there is no file) and writes the
 * result; `change` returns a string to refuse (nothing is written) — that string is returned.
 * Returns undefined when written (or when the content is unchanged).
 */
export function updateSettingsFile(
  stateDir: string,
  change: (given: Record<string, unknown>) => Record<string, unknown> | string,
  options: UpdateOptions = {},
): string | undefined {
  const file = settingsFile(stateDir);
  const step = options.step ?? (() => undefined);
  step("lock");
  const release = acquire(file, options.lockTimeoutMs ?? 5000);
  try {
    sweepLeftovers(file);
    step("read");
    const old = readIfExists(file);
    const given = old ? parseSettingsText(old.text, file) : {};
    const next = change(given);
    if (typeof next === "string") return next;
    const text = `${JSON.stringify(next, null, 2)}\n`;
    if (old && text === old.text) return undefined;
    release.check();
    writeAtomic(file, text, old?.stat, step);
    return undefined;
  } finally {
    release();
  }
}

function readIfExists(file: string): { text: string; stat: Stats } | undefined {
  try {
    return { stat: statSync(file), text: readFileSync(file, "utf8") };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

const tempName = (path: string, kind: "tmp" | "stale") =>
  `${path}.${kind}-${process.pid}-${randomBytes(6).toString("hex")}`;

function writeAtomic(
  file: string,
  text: string,
  old: Stats | undefined,
  step: (s: SettingsWriteStep) => void,
): void {
  const temp = tempName(file, "tmp");
  step("open-temp");
  const fd = openSync(temp, "wx", 0o600);
  try {
    // The old file's permissions exactly (the umask does not apply to fchmod).
    fchmodSync(fd, old ? old.mode & 0o7777 : 0o600);
    if (old && process.getuid?.() === 0 && (old.uid !== 0 || old.gid !== 0)) fchownSync(fd, old.uid, old.gid);
    step("write");
    const bytes = Buffer.from(text);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    step("fsync-temp");
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  step("rename");
  renameSync(temp, file);
  step("fsync-dir");
  fsyncDir(dirname(file));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

const holderPid = (content: string) => {
  const pid = Number(/^(\d+) [0-9a-f]+\n$/.exec(content)?.[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
};

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Takes the lock (waiting up to `timeoutMs` for a live holder); returns its release. */
function acquire(file: string, timeoutMs: number): (() => void) & { check: () => void } {
  const lock = `${file}.lock`;
  const token = `${process.pid} ${randomBytes(8).toString("hex")}\n`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryLink(lock, token)) break;
    const seen = readText(lock);
    if (seen === undefined) continue; // released between the link and the read
    const pid = holderPid(seen);
    if (pid === undefined || !alive(pid)) {
      takeOverStale(lock, seen);
      continue;
    }
    if (Date.now() >= deadline)
      throw new SettingsLockBusy(
        `${basename(lock)} is held by process ${pid} (another bulwark-agent updates settings); try again`,
      );
    Atomics.wait(pause, 0, 0, 20); // a synchronous command: nothing else to run meanwhile
  }
  const release = () => {
    if (readText(lock) === token) rmSync(lock, { force: true });
  };
  release.check = () => {
    if (readText(lock) !== token)
      throw new SettingsLockBusy(`${basename(lock)} was taken over; nothing written`);
  };
  return release;
}

function tryLink(lock: string, token: string): boolean {
  const temp = tempName(lock, "tmp");
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeSync(fd, token);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, lock);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  } finally {
    rmSync(temp, { force: true });
  }
}

function takeOverStale(lock: string, seen: string): void {
  const aside = tempName(lock, "stale");
  try {
    renameSync(lock, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (readText(aside) !== seen) {
    // A live holder took the lock between the read and the rename: give it back.
    try {
      linkSync(aside, lock);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  rmSync(aside, { force: true });
}

/** Temporary and set-aside files a killed command left beside the file (its pid no longer runs). */
function sweepLeftovers(file: string): void {
  const prefix = `${basename(file)}.`;
  for (const name of readdirSync(dirname(file))) {
    if (!name.startsWith(prefix)) continue;
    const pid = /\.(?:tmp|stale)-(\d+)-[0-9a-f]{12}$/.exec(name)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !alive(Number(pid)))
      rmSync(join(dirname(file), name), { force: true });
  }
}
