import { copyFile, open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * The atomic configuration-file installer: the new file is written beside the target, flushed,
 * and renamed over it (POSIX rename is atomic), then the directory is flushed: a reader or a
 * power loss sees the old file or the new one, never a mix.
 */
export async function installConfigFile(source: string, target: string): Promise<void> {
  const tmp = `${target}.bulwark-new`;
  await copyFile(source, tmp);
  const file = await open(tmp, "r+");
  await file.sync();
  await file.close();
  await rename(tmp, target);
  const dir = await open(dirname(target), "r");
  await dir.sync();
  await dir.close();
}
