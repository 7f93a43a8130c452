/**
 * Streams OSV records out of a directory, a `.zip` or a `.tar.gz`/`.tgz`/`.tar` bundle with bounded
 * memory: one record in memory at a time, each entry's size checked before (tar, directory) or while
 * (zip) it is read, and a cap on the number of records. Files that are not `.json`/`.yaml`/`.yml` are
 * skipped. A bad record raises a SoftwareError naming `bundle!entry`.
 */
import { createReadStream } from "node:fs";
import { opendir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { createGunzip } from "node:zlib";
import { Unzip, UnzipInflate } from "fflate";
import { extract } from "tar-stream";
import { SoftwareError } from "../errors.ts";
import { osvFormatOf, parseOsvText } from "./parse.ts";
import type { OsvRecord } from "./types.ts";

export interface BundleLimits {
  /** Largest accepted record file, in bytes (default 4 MiB). */
  maxRecordBytes?: number;
  /** Most records read from one bundle (default 1,000,000). */
  maxRecords?: number;
}

export interface BundleRecord {
  /** The entry's path inside the bundle (or relative to the directory), "/" separated. */
  path: string;
  record: OsvRecord;
}

export type BundleKind = "directory" | "zip" | "tar" | "tar.gz";

const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_RECORDS = 1_000_000;

export async function bundleKindOf(path: string): Promise<BundleKind> {
  const s = await stat(path).catch((e: unknown) => {
    throw new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", `cannot read OSV source: ${(e as Error).message}`, {
      path,
    });
  });
  if (s.isDirectory()) return "directory";
  const p = path.toLowerCase();
  if (p.endsWith(".zip")) return "zip";
  if (p.endsWith(".tar.gz") || p.endsWith(".tgz")) return "tar.gz";
  if (p.endsWith(".tar")) return "tar";
  throw new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", "not a directory, .zip, .tar or .tar.gz", { path });
}

class Budget {
  readonly maxBytes: number;
  readonly maxRecords: number;
  readonly bundle: string;
  count = 0;
  constructor(bundle: string, limits: BundleLimits) {
    this.bundle = bundle;
    this.maxBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.maxRecords = limits.maxRecords ?? DEFAULT_MAX_RECORDS;
  }
  checkSize(entry: string, bytes: number): void {
    if (bytes > this.maxBytes) {
      throw new SoftwareError(
        "BW_ERR_OSV_TOO_LARGE",
        `record is ${bytes} bytes, the limit is ${this.maxBytes}`,
        {
          path: `${this.bundle}!${entry}`,
        },
      );
    }
  }
  parse(entry: string, bytes: Uint8Array): BundleRecord {
    this.count++;
    if (this.count > this.maxRecords) {
      throw new SoftwareError("BW_ERR_OSV_TOO_MANY", `more than ${this.maxRecords} records`, {
        path: this.bundle,
      });
    }
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    return { path: entry, record: parseOsvText(text, osvFormatOf(entry)!, `${this.bundle}!${entry}`) };
  }
}

/** Reads every OSV record of a directory or bundle file, in archive (or sorted directory) order. */
export async function* readOsvBundle(path: string, limits: BundleLimits = {}): AsyncGenerator<BundleRecord> {
  const budget = new Budget(path, limits);
  const kind = await bundleKindOf(path);
  switch (kind) {
    case "directory":
      yield* readDirectory(path, budget);
      return;
    case "zip":
      yield* readZip(path, budget);
      return;
    case "tar":
    case "tar.gz":
      yield* readTar(path, kind === "tar.gz", budget);
      return;
    default: {
      const never: never = kind;
      throw new Error(`unreachable bundle kind ${String(never)}`);
    }
  }
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const dir = await opendir(root, { recursive: true });
  for await (const d of dir) if (d.isFile()) out.push(join(d.parentPath, d.name));
  return out.sort();
}

async function* readDirectory(root: string, budget: Budget): AsyncGenerator<BundleRecord> {
  for (const file of await listFiles(root)) {
    const entry = relative(root, file).split(sep).join("/");
    if (osvFormatOf(entry) === undefined) continue;
    budget.checkSize(entry, (await stat(file)).size);
    yield budget.parse(entry, await readFile(file));
  }
}

async function* readTar(path: string, gzipped: boolean, budget: Budget): AsyncGenerator<BundleRecord> {
  const ex = extract();
  const source = createReadStream(path);
  const onError = (e: Error): void => {
    ex.destroy(
      new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", `corrupt archive: ${e.message}`, { path, cause: e }),
    );
  };
  source.on("error", onError);
  if (gzipped) {
    const gunzip = createGunzip();
    gunzip.on("error", onError);
    source.pipe(gunzip).pipe(ex);
  } else {
    source.pipe(ex);
  }
  try {
    for await (const entry of ex) {
      const name = entry.header.name.replace(/^\.\//, "");
      if (entry.header.type !== "file" || osvFormatOf(name) === undefined) {
        entry.resume();
        continue;
      }
      // Bounded memory: the size is known from the tar header before the body is read.
      budget.checkSize(name, entry.header.size ?? 0);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      yield budget.parse(name, Buffer.concat(chunks));
    }
  } catch (e) {
    if (e instanceof SoftwareError) throw e;
    throw new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", `corrupt archive: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  } finally {
    source.destroy();
    ex.destroy();
  }
}

async function* readZip(path: string, budget: Budget): AsyncGenerator<BundleRecord> {
  const ready: BundleRecord[] = [];
  let failure: unknown;
  const unzip = new Unzip((file) => {
    const name = file.name;
    if (name.endsWith("/") || osvFormatOf(name) === undefined) return;
    if (file.originalSize !== undefined) {
      try {
        budget.checkSize(name, file.originalSize);
      } catch (e) {
        failure ??= e;
        return;
      }
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    file.ondata = (err, data, final) => {
      if (failure !== undefined) return;
      if (err) {
        failure = new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", `corrupt zip entry: ${err.message}`, {
          path: `${path}!${name}`,
        });
        return;
      }
      size += data.length;
      try {
        // Bounded memory: the inflated size is checked while inflating (zip headers can lie).
        budget.checkSize(name, size);
        chunks.push(data);
        if (final) ready.push(budget.parse(name, Buffer.concat(chunks)));
      } catch (e) {
        failure = e;
        file.terminate();
      }
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  try {
    let first = true;
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      // APPNOTE.TXT §4.3.7 / §4.3.16: a zip starts with a local file header or, if empty, the end record.
      if (
        first &&
        !(buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && (buf[2] === 3 || buf[2] === 5))
      ) {
        throw new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", "not a zip archive", { path });
      }
      first = false;
      unzip.push(buf, false);
      if (failure !== undefined) throw failure;
      while (ready.length > 0) yield ready.shift()!;
    }
    unzip.push(new Uint8Array(0), true);
    if (failure !== undefined) throw failure;
    while (ready.length > 0) yield ready.shift()!;
  } catch (e) {
    if (e instanceof SoftwareError) throw e;
    throw new SoftwareError("BW_ERR_BUNDLE_UNREADABLE", `corrupt zip: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  } finally {
    source.destroy();
  }
}
