/**
 * `bulwark scan`: scans an SBOM against OSV data offline. Exit 0 when no finding reaches the --fail-on
 * threshold, 1 when one does, 2 on bad input (one readable line on stderr). Findings without a CVSS
 * score (severity `unknown`; every Go vulndb record) fail closed: they fail the scan under any --fail-on
 * but `none` unless --ignore-unscored is given, and their number is always reported.
 */
import { isSoftwareError } from "@bulwark/sdk/software/errors";
import { type KevCatalog, readKevCatalog } from "@bulwark/sdk/software/kev";
import { readOsvBundle } from "@bulwark/sdk/software/osv/bundle";
import type { OsvRecord } from "@bulwark/sdk/software/osv/types";
import { readSbomFile } from "@bulwark/sdk/software/sbom/parse";
import {
  buildOsvIndex,
  type Finding,
  type ScanResult,
  scanSbom,
  severityRank,
} from "@bulwark/sdk/software/scan";
import { type FailOn, parseScanArgs, type ScanArgs, USAGE, UsageError } from "./args.ts";
import { coverageLines, coverageNotes, uncovered } from "./coverage.ts";
import { toSarif } from "./sarif.ts";
import { toTable } from "./table.ts";

export interface ScanIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

const TOOL_VERSION = "0.1.0";

/**
 * Whether a finding fails the scan: a scored one by its rating; an unscored one at any threshold
 * (its rating is unknown, so it cannot be shown to be below it) unless --ignore-unscored.
 */
function reaches(f: Finding, args: { failOn: FailOn; ignoreUnscored: boolean }): boolean {
  if (args.failOn === "none") return false;
  if (f.severity === "unknown") return !args.ignoreUnscored;
  return severityRank(f.severity) >= severityRank(args.failOn);
}

const unscoredCount = (fs: readonly Finding[]): number => fs.filter((f) => f.severity === "unknown").length;

/** The stderr note on unscored findings and what they did to the gate (stdout stays machine-readable). */
function unscoredNote(args: ScanArgs, unscored: number): string {
  if (unscored === 0) return "";
  const head = `bulwark scan: ${unscored} ${unscored === 1 ? "finding has" : "findings have"} no CVSS score`;
  if (args.failOn === "none") return `${head} (--fail-on none: nothing fails the scan)\n`;
  if (args.ignoreUnscored)
    return `${head} and did not count towards --fail-on ${args.failOn} (--ignore-unscored)\n`;
  return `${head} and ${unscored === 1 ? "fails" : "fail"} the scan at any --fail-on threshold (pass --ignore-unscored to gate on scored findings only)\n`;
}

function sortFindings(fs: Finding[]): Finding[] {
  return fs.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (b.score ?? -1) - (a.score ?? -1) ||
      a.name.localeCompare(b.name) ||
      a.vulnId.localeCompare(b.vulnId),
  );
}

async function load(
  args: ScanArgs,
): Promise<{ result: ScanResult; records: number; kev: KevCatalog | undefined }> {
  const sbom = await readSbomFile(args.sbom);
  const records: OsvRecord[] = [];
  for (const path of args.osv) for await (const r of readOsvBundle(path)) records.push(r.record);
  const kev = args.kev === undefined ? undefined : await readKevCatalog(args.kev);
  const index = buildOsvIndex(records, kev);
  return { result: scanSbom(sbom, index), records: index.records, kev };
}

function render(args: ScanArgs, result: ScanResult, records: number, kev: KevCatalog | undefined): string {
  const findings = result.findings;
  const unscored = unscoredCount(findings);
  const summary =
    `${result.scanned} components scanned, ${result.skipped.length} skipped, ${records} advisories` +
    (kev === undefined ? "" : `, KEV ${kev.catalogVersion}`);
  switch (args.format) {
    case "json":
      return `${JSON.stringify(
        {
          sbom: args.sbom,
          scanned: result.scanned,
          skipped: result.skipped,
          advisories: records,
          kevCatalogVersion: kev?.catalogVersion,
          failOn: args.failOn,
          ignoreUnscored: args.ignoreUnscored,
          unscored,
          coverage: result.coverage,
          unevaluated: result.unevaluated,
          findings,
        },
        null,
        2,
      )}\n`;
    case "table":
      return toTable(findings, summary, {
        coverage: coverageLines(result),
        nothingChecked: result.coverage.length > 0 && uncovered(result).length === result.coverage.length,
        unevaluated: result.unevaluated.length,
      });
    case "sarif":
      return `${JSON.stringify(toSarif(findings, args.sbom, TOOL_VERSION), null, 2)}\n`;
    default: {
      const never: never = args.format;
      throw new Error(`unreachable format ${String(never)}`);
    }
  }
}

export async function runScan(argv: string[], io: ScanIo): Promise<number> {
  let args: ScanArgs;
  try {
    args = parseScanArgs(argv);
  } catch (e) {
    io.stderr.write(`bulwark scan: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  let loaded: Awaited<ReturnType<typeof load>>;
  try {
    loaded = await load(args);
  } catch (e) {
    if (isSoftwareError(e) || e instanceof UsageError) {
      io.stderr.write(`bulwark scan: ${e.message.replace(/\s+/g, " ")}\n`);
      return 2;
    }
    throw e;
  }
  sortFindings(loaded.result.findings);
  io.stdout.write(render(args, loaded.result, loaded.records, loaded.kev));
  io.stderr.write(coverageNotes(loaded.result));
  io.stderr.write(unscoredNote(args, unscoredCount(loaded.result.findings)));
  return loaded.result.findings.some((f) => reaches(f, args)) ? 1 : 0;
}
