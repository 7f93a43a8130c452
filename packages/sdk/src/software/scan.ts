/**
 * Matches SBOM components against an in-memory OSV index and produces findings. The index is built once
 * (by ecosystem + normalised package name) and queried per component; ranges are compiled on first use.
 */
import type { KevCatalog } from "./kev.ts";
import { bestCvss, type CvssScore, type SeverityRating } from "./osv/cvss.ts";
import { ecosystemRelease, packageKey } from "./osv/names.ts";
import { type CompiledAffected, compileAffected, fixedVersions, isAffectedCompiled } from "./osv/ranges.ts";
import type { OsvAffected, OsvRecord } from "./osv/types.ts";
import type { SbomComponent, SbomDocument } from "./sbom/model.ts";
import { baseEcosystem, ecosystemScheme, normalizeVersion } from "./versions/registry.ts";

/** A finding's severity: a CVSS rating, or "unknown" when the advisory carries no scorable CVSS vector. */
export type FindingSeverity = SeverityRating | "unknown";

export interface Finding {
  componentRef: string;
  purl: string | undefined;
  name: string;
  version: string;
  ecosystem: string;
  vulnId: string;
  aliases: string[];
  summary: string | undefined;
  severity: FindingSeverity;
  score: number | undefined;
  cvssVector: string | undefined;
  fixedVersions: string[];
  knownExploited: boolean;
  /** CISA KEV dateAdded of the first matching CVE, if known exploited. */
  kevDateAdded: string | undefined;
}

export interface SkippedComponent {
  ref: string;
  reason: "no-purl" | "no-ecosystem" | "no-version" | "unsupported-ecosystem" | "invalid-version";
}

/** An advisory that named a scanned package but could not be evaluated (a version does not parse). */
export interface UnevaluatedAdvisory {
  id: string;
  ecosystem: string;
  package: string;
  reason: string;
}

/** Per base ecosystem of the SBOM: how much of it the advisory data could speak about. */
export interface EcosystemCoverage {
  ecosystem: string;
  /** Components of this ecosystem that were scanned. */
  components: number;
  /** Of them, those whose package some advisory in the data names. */
  withAdvisoryData: number;
  /** Advisory entries in the data for this ecosystem (0: the data does not cover it at all). */
  advisories: number;
}

export interface ScanResult {
  scanned: number;
  skipped: SkippedComponent[];
  findings: Finding[];
  unevaluated: UnevaluatedAdvisory[];
  coverage: EcosystemCoverage[];
}

interface IndexEntry {
  record: OsvRecord;
  affected: OsvAffected;
  release: string | undefined;
  compiled: CompiledAffected | undefined;
  /** Why the entry cannot be evaluated, once compiling it failed. */
  broken: string | undefined;
  cvss: CvssScore | undefined;
  fixed: string[];
  /** CISA KEV dateAdded of the record's id or first listed alias, if known exploited. */
  kevDateAdded: string | undefined;
}

export interface OsvIndex {
  readonly entries: ReadonlyMap<string, readonly IndexEntry[]>;
  /** Affected entries per base ecosystem ("Debian:12" counts under "Debian"). */
  readonly ecosystems: ReadonlyMap<string, number>;
  readonly records: number;
  readonly withdrawn: number;
  readonly kev: KevCatalog | undefined;
}

/** Builds the index; withdrawn records are left out (OSV schema §withdrawn). Later duplicates of an id replace earlier ones. */
export function buildOsvIndex(records: Iterable<OsvRecord>, kev?: KevCatalog): OsvIndex {
  const byId = new Map<string, OsvRecord>();
  let withdrawn = 0;
  for (const r of records) {
    const prev = byId.get(r.id);
    if (prev === undefined || prev.modified <= r.modified) byId.set(r.id, r);
  }
  const entries = new Map<string, IndexEntry[]>();
  const ecosystems = new Map<string, number>();
  for (const record of byId.values()) {
    // OSV schema §withdrawn: a withdrawn entry should not be used.
    if (record.withdrawn !== undefined) {
      withdrawn++;
      continue;
    }
    for (const affected of record.affected) {
      const pkg = affected.package;
      if (pkg === undefined) continue;
      const key = packageKey(pkg.ecosystem, pkg.name);
      const entry: IndexEntry = {
        record,
        affected,
        release: ecosystemRelease(pkg.ecosystem),
        compiled: undefined,
        broken: undefined,
        // OSV schema §affected.severity takes precedence over the record-level §severity.
        cvss: bestCvss(affected.severity) ?? bestCvss(record.severity),
        fixed: fixedVersions(affected),
        kevDateAdded: kevMatch(kev, record),
      };
      const list = entries.get(key);
      if (list === undefined) entries.set(key, [entry]);
      else list.push(entry);
      const base = baseEcosystem(pkg.ecosystem);
      ecosystems.set(base, (ecosystems.get(base) ?? 0) + 1);
    }
  }
  return { entries, ecosystems, records: byId.size, withdrawn, kev };
}

function compiled(entry: IndexEntry): CompiledAffected | undefined {
  if (entry.compiled === undefined && entry.broken === undefined) {
    try {
      entry.compiled = compileAffected(entry.affected, `${entry.record.id}#/affected`);
    } catch (e) {
      // A record whose versions do not parse in its ecosystem cannot be evaluated: never silently,
      // the scan names it (ScanResult.unevaluated).
      entry.broken = (e as Error).message;
    }
  }
  return entry.compiled;
}

function kevMatch(kev: KevCatalog | undefined, record: OsvRecord): string | undefined {
  if (kev === undefined) return undefined;
  for (const id of [record.id, ...record.aliases]) {
    const hit = kev.entries.get(id);
    if (hit !== undefined) return hit.dateAdded;
  }
  return undefined;
}

function componentSkip(c: SbomComponent): SkippedComponent["reason"] | undefined {
  if (c.purl === undefined) return "no-purl";
  if (c.ecosystem === undefined || c.packageName === undefined) return "no-ecosystem";
  if (c.version === undefined) return "no-version";
  if (ecosystemScheme(c.ecosystem) === undefined) return "unsupported-ecosystem";
  return undefined;
}

/** Scans one component; findings are appended to `out`, advisories it could not evaluate to `unevaluated`. */
export function scanComponent(
  c: SbomComponent,
  index: OsvIndex,
  out: Finding[],
  unevaluated?: Map<string, UnevaluatedAdvisory>,
): SkippedComponent["reason"] | undefined {
  const skip = componentSkip(c);
  if (skip !== undefined) return skip;
  const ecosystem = c.ecosystem!;
  const version = c.version!;
  const candidates = index.entries.get(packageKey(ecosystem, c.packageName!));
  if (candidates === undefined) return undefined;
  const release = ecosystemRelease(ecosystem);
  const normalized = normalizeVersion(ecosystem, version);
  let last: string | undefined;
  for (const entry of candidates) {
    if (entry.release !== undefined && release !== undefined && entry.release !== release) continue;
    // One finding per advisory even when several of its affected[] entries name the package.
    if (entry.record.id === last) continue;
    const comp = compiled(entry);
    if (comp === undefined) {
      const pkg = entry.affected.package!;
      unevaluated?.set(`${entry.record.id}|${pkg.ecosystem}|${pkg.name}`, {
        id: entry.record.id,
        ecosystem: pkg.ecosystem,
        package: pkg.name,
        reason: entry.broken ?? "cannot be evaluated",
      });
      continue;
    }
    let hit: boolean;
    try {
      hit = isAffectedCompiled(comp, version, normalized);
    } catch {
      return "invalid-version";
    }
    if (!hit) continue;
    last = entry.record.id;
    const kevDate = entry.kevDateAdded;
    out.push({
      componentRef: c.ref,
      purl: c.purl,
      name: c.packageName!,
      version,
      ecosystem,
      vulnId: entry.record.id,
      aliases: entry.record.aliases,
      summary: entry.record.summary,
      severity: entry.cvss?.rating ?? "unknown",
      score: entry.cvss?.baseScore,
      cvssVector: entry.cvss?.vector,
      fixedVersions: entry.fixed,
      knownExploited: kevDate !== undefined,
      kevDateAdded: kevDate,
    });
  }
  return undefined;
}

export function scanSbom(doc: SbomDocument, index: OsvIndex): ScanResult {
  const findings: Finding[] = [];
  const skipped: SkippedComponent[] = [];
  const unevaluated = new Map<string, UnevaluatedAdvisory>();
  const coverage = new Map<string, EcosystemCoverage>();
  let scanned = 0;
  for (const c of doc.components) {
    const reason = scanComponent(c, index, findings, unevaluated);
    if (reason !== undefined) {
      skipped.push({ ref: c.ref, reason });
      continue;
    }
    scanned++;
    const base = baseEcosystem(c.ecosystem!);
    let row = coverage.get(base);
    if (row === undefined) {
      row = {
        ecosystem: base,
        components: 0,
        withAdvisoryData: 0,
        advisories: index.ecosystems.get(base) ?? 0,
      };
      coverage.set(base, row);
    }
    row.components++;
    if (index.entries.has(packageKey(c.ecosystem!, c.packageName!))) row.withAdvisoryData++;
  }
  return {
    scanned,
    skipped,
    findings,
    unevaluated: [...unevaluated.values()].sort((a, b) => a.id.localeCompare(b.id)),
    coverage: [...coverage.values()].sort((a, b) => a.ecosystem.localeCompare(b.ecosystem)),
  };
}

const RANK: Record<FindingSeverity, number> = {
  none: 0,
  low: 1,
  medium: 2,
  high: 3,
  unknown: 3,
  critical: 4,
};

/**
 * Orders severities for sorting and for keeping the worst of merged advisories; "unknown" (no CVSS
 * score) sorts with "high", so an advisory nobody scored is shown near the top rather than last. Not a
 * gate: `bulwark scan --fail-on` fails on unscored findings at any threshold (unless `--ignore-unscored`).
 */
export function severityRank(s: FindingSeverity): number {
  return RANK[s];
}
