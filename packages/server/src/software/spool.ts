/**
 * Where uploads (OSV bundles, the KEV catalogue) are spooled: under the data directory, owner-only,
 * one folder per server process (`<host>-<pid>`). At start a process removes what dead processes of
 * its host left behind (an upload cut off by a kill), and its own folder from an earlier life under
 * the same pid; folders of other hosts sharing the data directory are theirs to clean.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates this process's spool folder, after removing the stale ones of this host. */
export function prepareSpool(dataDir: string, host = hostname(), pid = process.pid): string {
  const root = join(dataDir, "spool");
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const prefix = `${host}-`;
  for (const name of readdirSync(root)) {
    if (!name.startsWith(prefix)) continue;
    const owner = Number(name.slice(prefix.length));
    if (!Number.isInteger(owner) || owner === pid || !alive(owner))
      rmSync(join(root, name), { recursive: true, force: true });
  }
  const own = join(root, `${host}-${pid}`);
  mkdirSync(own, { mode: 0o700 });
  return own;
}
