import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";

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
