/**
 * Where a segment's content lies in the base (`delta-segmented.ts`): content-defined anchors, as
 * content-defined chunking finds its cut points (a gear hash over a sliding window of 32 bytes;
 * a position is an anchor when the hash's low `bits` bits are zero, so the same bytes give the
 * same anchors wherever they moved). Each anchor carries a key made from a second gear hash and
 * the first one's high bits. The base's anchors are indexed once; a segment's anchors found in
 * the index say how far its content moved (the drift), so its reference can follow the content
 * instead of staying at the same offset. Memory: one map entry per anchor (2^bits bytes apart on
 * average: 64 KiB for 8 MiB segments, so 16,384 entries per GiB).
 */

function gearTable(seed: number): Uint32Array {
  const t = new Uint32Array(256);
  let x = seed >>> 0;
  for (let i = 0; i < 256; i++) {
    // xorshift32: a fixed pseudo-random table (both sides of an index use the same one).
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    t[i] = x >>> 0;
  }
  return t;
}
const GEAR_A = gearTable(0x9e3779b9);
const GEAR_B = gearTable(0x85ebca6b);

/** Scans a byte stream chunk by chunk (offsets count from its first byte) for anchors. */
export class AnchorScanner {
  readonly #mask: number;
  #a = 0;
  #b = 0;
  #offset = 0;

  constructor(bits: number) {
    this.#mask = (2 ** bits - 1) >>> 0;
  }

  /** Calls `found(offset, key)` for each anchor in `chunk`, the next bytes of the stream. */
  scan(chunk: Uint8Array, found: (offset: number, key: number) => void): void {
    let a = this.#a;
    let b = this.#b;
    const mask = this.#mask;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      a = ((a << 1) + GEAR_A[byte]!) >>> 0;
      b = ((b << 1) + GEAR_B[byte]!) >>> 0;
      if ((a & mask) === 0) found(this.#offset + i, b * 65536 + (a >>> 16));
    }
    this.#a = a;
    this.#b = b;
    this.#offset += chunk.length;
  }
}

/** The average anchor spacing for segments of `segmentBytes`: about 128 anchors per segment. */
export function anchorBits(segmentBytes: number): number {
  return Math.max(Math.floor(Math.log2(segmentBytes / 128)), 6);
}

/** The base's anchors: key → offset, or -1 for a key seen more than once (ambiguous, not used). */
export class AnchorIndex {
  readonly #map = new Map<number, number>();
  readonly scanner: AnchorScanner;

  constructor(bits: number) {
    this.scanner = new AnchorScanner(bits);
  }

  add(chunk: Uint8Array): void {
    this.scanner.scan(chunk, (offset, key) => {
      this.#map.set(key, this.#map.has(key) ? -1 : offset);
    });
  }

  /**
   * How far the content at `anchors` (offsets in the new image) moved from the base: the median of
   * the found anchors' offset differences; undefined when none is found.
   */
  drift(anchors: { offset: number; key: number }[]): number | undefined {
    const drifts: number[] = [];
    for (const a of anchors) {
      const at = this.#map.get(a.key);
      if (at !== undefined && at >= 0) drifts.push(at - a.offset);
    }
    if (drifts.length === 0) return undefined;
    drifts.sort((x, y) => x - y);
    return drifts[Math.floor(drifts.length / 2)]!;
  }
}
