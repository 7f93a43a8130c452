/** Debian package versions per Debian Policy §5.6.12: [epoch:]upstream_version[-debian_revision]. */
import { SoftwareError } from "../errors.ts";
import { compareDigits, isDigitChar, isDigits, isLetterChar } from "./numeric.ts";

export interface DebianVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

export function parseDebianVersion(input: string): DebianVersion {
  let s = input.trim();
  let epoch = "0";
  const colon = s.indexOf(":");
  if (colon !== -1) {
    epoch = s.slice(0, colon);
    // Debian Policy §5.6.12: "epoch ... is a single (generally small) unsigned integer".
    if (!isDigits(epoch)) {
      throw new SoftwareError(
        "BW_ERR_VERSION_INVALID",
        `Debian version ${JSON.stringify(input)} has a bad epoch`,
      );
    }
    s = s.slice(colon + 1);
  }
  const dash = s.lastIndexOf("-");
  // Debian Policy §5.6.12: the revision is after the last hyphen; absent means "0".
  if (dash === -1) return { epoch, upstream: s, revision: "0" };
  return { epoch, upstream: s.slice(0, dash), revision: s.slice(dash + 1) };
}

// Debian Policy §5.6.12: "~" sorts before anything, even the end; letters before non-letters.
function charWeight(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === "~") return -1;
  const code = c.charCodeAt(0);
  return isLetterChar(c) ? code : code + 256;
}

/** dpkg verrevcmp: alternating non-digit and digit runs. */
export function compareDebianPart(a: string, b: string): -1 | 0 | 1 {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const si = i;
    while (i < a.length && !isDigitChar(a[i])) i++;
    const sj = j;
    while (j < b.length && !isDigitChar(b[j])) j++;
    const pa = a.slice(si, i);
    const pb = b.slice(sj, j);
    if (pa !== pb) {
      const n = Math.max(pa.length, pb.length);
      for (let k = 0; k < n; k++) {
        const wa = charWeight(pa[k]);
        const wb = charWeight(pb[k]);
        if (wa !== wb) return wa < wb ? -1 : 1;
      }
    }
    const di = i;
    while (i < a.length && isDigitChar(a[i])) i++;
    const dj = j;
    while (j < b.length && isDigitChar(b[j])) j++;
    const d = compareDigits(a.slice(di, i) || "0", b.slice(dj, j) || "0");
    if (d !== 0) return d;
  }
  return 0;
}

export function compareDebian(a: string, b: string): -1 | 0 | 1 {
  const x = parseDebianVersion(a);
  const y = parseDebianVersion(b);
  return (
    compareDigits(x.epoch, y.epoch) ||
    compareDebianPart(x.upstream, y.upstream) ||
    compareDebianPart(x.revision, y.revision)
  );
}
