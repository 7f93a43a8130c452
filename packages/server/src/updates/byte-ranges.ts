import { BulwarkError } from "@bulwark/sdk/errors";
import parseRange from "range-parser";
import type { ByteRange } from "./artifact-store.ts";

/**
 * The one byte range to serve for a `Range` request header (RFC 9110 §14.2), or undefined to
 * serve the whole representation: no header, a malformed one, several ranges (a server MAY
 * ignore Range), or an `If-Range` validator that no longer matches (§13.1.5: the file changed,
 * so a resumed download must start again). An unsatisfiable range is a 416 (§15.5.17).
 */
export function requestedRange(
  size: number,
  headers: { range?: string; "if-range"?: string },
  etag: string,
): ByteRange | undefined {
  if (!headers.range) return undefined;
  if (headers["if-range"] !== undefined && headers["if-range"] !== etag) return undefined;
  const ranges = parseRange(size, headers.range, { combine: true });
  if (ranges === -1) throw new RangeNotSatisfiable(size);
  if (ranges === -2 || ranges.type !== "bytes" || ranges.length !== 1) return undefined;
  return { start: ranges[0]!.start, end: ranges[0]!.end };
}

/** 416 with `Content-Range: bytes *\/size` (RFC 9110 §14.4) so the client learns the length. */
export class RangeNotSatisfiable extends BulwarkError {
  readonly size: number;
  constructor(size: number) {
    super("BW_ERR_RANGE_NOT_SATISFIABLE", `the artifact is ${size} bytes long`);
    this.size = size;
  }
}
