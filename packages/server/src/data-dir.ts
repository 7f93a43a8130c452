/**
 * The data directory holds the SQLite database, the custody keys and the master key: it must not be
 * open to other users of the machine. It is created 0700; an existing one that group or others may
 * read, write or enter is refused unless the operator says it is meant to be (`--allow-open-data-dir`,
 * e.g. a shared volume whose access is controlled elsewhere). Least privilege, CRA Annex I Part I (2)(d).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export class DataDirError extends Error {
  override name = "DataDirError";
}

/** Group and other permission bits: any of them set means other users may reach the files. */
const OPEN_BITS = 0o077;

export interface DataDirCheck {
  /** The directory's mode when it is open to others and that was allowed (for a warning). */
  openMode: number | undefined;
}

export function prepareDataDir(dir: string, allowOpen: boolean): DataDirCheck {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & OPEN_BITS) !== 0 && !allowOpen)
    throw new DataDirError(
      `the data directory ${dir} is open to other users (mode ${mode.toString(8).padStart(4, "0")}); ` +
        `run chmod 700 ${dir}, or pass --allow-open-data-dir if its access is controlled otherwise`,
    );
  narrowSecrets(dir);
  return { openMode: (mode & OPEN_BITS) === 0 ? undefined : mode };
}

/**
 * The key material stays owner-only even in a directory opened on purpose, and files restored
 * from a backup or left by an older version with wider modes are narrowed: the master key and the
 * custody key files 0600, the keys folder 0700. (They are created so; see master-key.ts and
 * file-key-custody.ts.)
 */
function narrowSecrets(dir: string): void {
  const master = join(dir, "master.key");
  if (existsSync(master)) chmodSync(master, 0o600);
  const keys = join(dir, "keys");
  if (!existsSync(keys)) return;
  chmodSync(keys, 0o700);
  for (const name of readdirSync(keys)) chmodSync(join(keys, name), 0o600);
}
