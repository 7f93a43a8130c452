/**
 * Decides whether a package version is affected by an OSV `affected[]` entry, exactly per the OSV schema
 * §Evaluation pseudocode (IsVulnerable / IncludedInVersions / IncludedInRanges / BeforeLimits).
 */
import { SoftwareError } from "../errors.ts";
import {
  type Comparator,
  comparatorFor,
  ecosystemScheme,
  equalityKey,
  normalizeVersion,
  schemeComparator,
} from "../versions/registry.ts";
import { compareSemver } from "../versions/semver.ts";
import type { OsvAffected, OsvEvent, OsvRange } from "./types.ts";

/** One evaluable range: events pre-sorted in the range's order. */
interface CompiledRange {
  compare: Comparator;
  events: OsvEvent[];
  limits: string[];
}

export interface CompiledAffected {
  ecosystem: string;
  /** `versions` entries by their equality key where the scheme has one (SemVer, PyPI), else as written. */
  versions: ReadonlySet<string>;
  /**
   * For schemes without an equality key: the entries sorted in the ecosystem's order, binary-searched
   * with the comparator the ranges use, so a listed version matches whatever form the SBOM writes it
   * in (Maven `1.0` = `1.0.0`). Empty where the keys already decide (Go `v4.2.10` = `4.2.10`).
   */
  ordered: readonly string[];
  /** The ecosystem's comparator; undefined for ecosystems without one (exact matching only). */
  compare: Comparator | undefined;
  ranges: CompiledRange[];
}

function isZeroIntroduced(e: OsvEvent): boolean {
  // OSV schema §Special values: introduced "0" sorts before any other version.
  return e.kind === "introduced" && e.version === "0";
}

function isInfinity(v: string): boolean {
  // OSV schema §Special values: a limit containing "*" represents infinity.
  return v.includes("*");
}

function compileRange(range: OsvRange, ecosystem: string, where: string): CompiledRange | undefined {
  switch (range.type) {
    case "GIT":
      // OSV schema §affected.ranges.type GIT: commit hashes are not ordered without the repository, so GIT
      // ranges contribute only through the enumerated `versions` list.
      return undefined;
    case "SEMVER":
    case "ECOSYSTEM": {
      // OSV schema §affected.ranges.type: SEMVER uses SemVer 2.0.0 order, ECOSYSTEM the ecosystem's own.
      const compare = range.type === "SEMVER" ? compareSemver : comparatorFor(ecosystem);
      const order = (a: OsvEvent, b: OsvEvent): number => {
        if (isZeroIntroduced(a) || isZeroIntroduced(b))
          return isZeroIntroduced(a) ? (isZeroIntroduced(b) ? 0 : -1) : 1;
        return compare(a.version, b.version);
      };
      try {
        // Every version is parsed here, not first when a component is compared with it: a record
        // whose version does not parse is the record's fault, never the component's.
        for (const e of range.events)
          if (!isZeroIntroduced(e) && !(e.kind === "limit" && isInfinity(e.version)))
            compare(e.version, e.version);
        const events = range.events.filter((e) => e.kind !== "limit").sort(order);
        const limits = range.events.filter((e) => e.kind === "limit").map((e) => e.version);
        return { compare, events, limits };
      } catch (e) {
        throw new SoftwareError(
          "BW_ERR_OSV_INVALID",
          `range has a version that is invalid for ${ecosystem}`,
          {
            path: where,
            detail: (e as Error).message,
            cause: e,
          },
        );
      }
    }
    default: {
      const never: never = range.type;
      throw new Error(`unreachable range type ${String(never)}`);
    }
  }
}

/** Prepares an `affected[]` entry for repeated evaluation. `where` names it in errors. */
export function compileAffected(affected: OsvAffected, where = "affected"): CompiledAffected {
  const ecosystem = affected.package?.ecosystem ?? "";
  const ranges: CompiledRange[] = [];
  affected.ranges.forEach((r, i) => {
    const c = compileRange(r, ecosystem, `${where}/ranges/${i}`);
    if (c !== undefined) ranges.push(c);
  });
  const scheme = ecosystemScheme(ecosystem);
  const compare = scheme === undefined ? undefined : schemeComparator(scheme);
  // Every entry must parse, as in a range; the order is only kept where no equality key decides.
  const ordered = orderedVersions(affected.versions, compare, where);
  const versions = new Set(affected.versions.map((v) => normalizeVersion(ecosystem, v)));
  const keyed = equalityKey(scheme) !== undefined;
  return { ecosystem, versions, ordered: keyed ? [] : ordered, compare, ranges };
}

/** The `versions` list in the ecosystem's order; an entry that does not parse makes the record invalid, as in a range. */
function orderedVersions(list: readonly string[], compare: Comparator | undefined, where: string): string[] {
  if (compare === undefined) return [];
  list.forEach((v, i) => {
    try {
      compare(v, v);
    } catch (e) {
      throw new SoftwareError(
        "BW_ERR_OSV_INVALID",
        "versions has a version that is invalid for the ecosystem",
        {
          path: `${where}/versions/${i}`,
          detail: (e as Error).message,
          cause: e,
        },
      );
    }
  });
  return [...list].sort(compare);
}

/** Binary search with the ecosystem's comparator: is a version equal to `v` in the sorted list? */
function listed(sorted: readonly string[], v: string, compare: Comparator): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const d = compare(v, sorted[mid]!);
    if (d === 0) return true;
    if (d < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return false;
}

function beforeLimits(v: string, r: CompiledRange): boolean {
  // OSV schema §Evaluation BeforeLimits: no limit events means an implicit "*".
  if (r.limits.length === 0) return true;
  return r.limits.some((l) => isInfinity(l) || r.compare(v, l) < 0);
}

function includedInRange(v: string, r: CompiledRange): boolean {
  if (!beforeLimits(v, r)) return false;
  let vulnerable = false;
  for (const e of r.events) {
    switch (e.kind) {
      case "introduced":
        if (isZeroIntroduced(e) || r.compare(v, e.version) >= 0) vulnerable = true;
        break;
      case "fixed":
        if (r.compare(v, e.version) >= 0) vulnerable = false;
        break;
      case "last_affected":
        if (r.compare(v, e.version) > 0) vulnerable = false;
        break;
      case "limit":
        break;
      default: {
        const never: never = e;
        throw new Error(`unreachable event ${JSON.stringify(never)}`);
      }
    }
  }
  return vulnerable;
}

/**
 * OSV schema §Evaluation: affected if listed in `versions` or included in any range; "listed" means
 * equal in the ecosystem's version order, exactly as ranges compare. `normalized` may pass
 * normalizeVersion(ecosystem, version) when the caller already has it.
 */
export function isAffectedCompiled(c: CompiledAffected, version: string, normalized?: string): boolean {
  if (c.versions.size > 0 && c.versions.has(normalized ?? normalizeVersion(c.ecosystem, version)))
    return true;
  // OSV schema §Evaluation IncludedInVersions, with the ecosystem's equality (the one ranges use).
  if (c.compare !== undefined && c.ordered.length > 0 && listed(c.ordered, version, c.compare)) return true;
  for (const r of c.ranges) if (includedInRange(version, r)) return true;
  return false;
}

export function isAffected(affected: OsvAffected, version: string): boolean {
  return isAffectedCompiled(compileAffected(affected), version);
}

/** The `fixed` versions of the non-GIT ranges (what to upgrade to), in the order given. */
export function fixedVersions(affected: OsvAffected): string[] {
  const out: string[] = [];
  for (const r of affected.ranges) {
    if (r.type === "GIT") continue;
    for (const e of r.events) if (e.kind === "fixed" && !out.includes(e.version)) out.push(e.version);
  }
  return out;
}
