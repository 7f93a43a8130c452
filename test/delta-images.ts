import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";

/**
 * A real binary to make delta test images of: the first `length` bytes of the pinned Node
 * executable (`node_modules/node/bin/node`, inside the repository), an ELF with code and data.
 */
export function realBinary(length: number): Buffer {
  const fd = openSync(process.execPath, "r");
  try {
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, 0);
    if (read !== length) throw new Error(`the executable has only ${read} bytes`);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/**
 * The next release of `old` as a build changes it: a region rewritten in place (a patched
 * function), bytes inserted near the start (everything after it shifts), a section appended.
 * `changed` is roughly how many new bytes the change brings (5,000 + 4,096 + 64 KiB).
 */
export function nextRelease(old: Buffer): { image: Buffer; changed: number } {
  const at = Math.floor(old.length / 4);
  const image = Buffer.concat([
    old.subarray(0, at),
    randomBytes(5000),
    old.subarray(at),
    randomBytes(64 * 1024),
  ]);
  randomBytes(4096).copy(image, Math.floor(image.length / 2));
  return { image, changed: 5000 + 4096 + 64 * 1024 };
}

/**
 * A root-filesystem-like image of `length` bytes from real bytes inside the repository: the
 * pinned Node executable, then the files under `node_modules` in sorted order, each padded to a
 * 4 KiB block like a filesystem lays them out (for benchmarks of large images; tests use small ones).
 */
export function rootfsImage(length: number): Buffer {
  const image = Buffer.alloc(length);
  let at = 0;
  const add = (path: string) => {
    if (at >= length) return;
    const fd = openSync(path, "r");
    try {
      at += readSync(fd, image, at, length - at, 0);
    } finally {
      closeSync(fd);
    }
    at = Math.ceil(at / 4096) * 4096;
  };
  add(process.execPath);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      if (at >= length) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) add(path);
    }
  };
  walk(join(import.meta.dirname, "..", "node_modules"));
  if (at < length) throw new Error(`only ${at} bytes of real files for a ${length}-byte image`);
  return image;
}

/**
 * The next release of a root filesystem image: 8 files of 64 KiB rewritten in place, 1 MiB
 * inserted at 40 % (a grown file: everything after it shifts by 1 MiB, within a segment's
 * margin) and 256 KiB appended; `changed` is how many new bytes that is.
 */
export function nextRootfs(old: Buffer): { image: Buffer; changed: number } {
  const at = Math.floor((old.length * 0.4) / 4096) * 4096;
  const image = Buffer.concat([
    old.subarray(0, at),
    randomBytes(1024 * 1024),
    old.subarray(at),
    randomBytes(256 * 1024),
  ]);
  for (let i = 1; i <= 8; i++)
    randomBytes(64 * 1024).copy(image, Math.floor((image.length * i) / 9 / 4096) * 4096);
  return { image, changed: 1024 * 1024 + 256 * 1024 + 8 * 64 * 1024 };
}
