import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Where the client keeps its trusted metadata between update cycles (TUF spec §5.3.8, §5.4.5,
 * §5.5.7, §5.6.6 "Persist … metadata"): "root.json", "timestamp.json", "snapshot.json",
 * "targets.json" and one file per delegated role.
 */
export interface MetadataStore {
  read(name: string): Promise<Uint8Array | undefined>;
  write(name: string, bytes: Uint8Array): Promise<void>;
  remove(name: string): Promise<void>;
}

/** A store in memory (tests, or a client that keeps nothing across restarts but its root). */
export function memoryStore(
  initial: Record<string, Uint8Array> = {},
): MetadataStore & { files: Map<string, Uint8Array> } {
  const files = new Map(Object.entries(initial));
  return {
    files,
    read: async (name) => files.get(name),
    write: async (name, bytes) => void files.set(name, Buffer.from(bytes)),
    remove: async (name) => void files.delete(name),
  };
}

/** A store in a directory; each write goes to a temporary file renamed over the old one. */
export function directoryStore(dir: string): MetadataStore {
  const path = (name: string) => join(dir, encodeURIComponent(name));
  return {
    async read(name) {
      try {
        return await readFile(path(name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async write(name, bytes) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const temporary = `${path(name)}.tmp`;
      await writeFile(temporary, bytes, { mode: 0o600 });
      await rename(temporary, path(name));
    },
    remove: (name) => rm(path(name), { force: true }),
  };
}
