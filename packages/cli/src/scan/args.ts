/** Command-line arguments of `bulwark scan`. */
import { parseArgs } from "node:util";

export type OutputFormat = "json" | "table" | "sarif";
export type FailOn = "none" | "low" | "medium" | "high" | "critical";

export interface ScanArgs {
  sbom: string;
  osv: string[];
  kev: string | undefined;
  format: OutputFormat;
  failOn: FailOn;
  /**
   * Findings without a CVSS score are left out of the gate. By default they fail the scan whenever
   * --fail-on is not `none` (fail closed: an unrated advisory is not a harmless one).
   */
  ignoreUnscored: boolean;
}

export const USAGE =
  "usage: bulwark scan SBOM --osv PATH [--osv PATH...] [--kev PATH] [--format json|table|sarif] " +
  "[--fail-on none|low|medium|high|critical] [--ignore-unscored]";

export class UsageError extends Error {
  override name = "UsageError";
}

const FORMATS: readonly OutputFormat[] = ["json", "table", "sarif"];
const FAIL_ON: readonly FailOn[] = ["none", "low", "medium", "high", "critical"];

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

export function parseScanArgs(argv: string[]): ScanArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? "no SBOM given" : "only one SBOM may be given");
  const osv = values.osv ?? [];
  if (osv.length === 0) throw new UsageError("at least one --osv PATH is required");
  return {
    sbom: positionals[0]!,
    osv,
    kev: values.kev,
    format: oneOf(values.format ?? "table", FORMATS, "format"),
    failOn: oneOf(values["fail-on"] ?? "low", FAIL_ON, "fail-on"),
    ignoreUnscored: values["ignore-unscored"] === true,
  };
}

const OPTIONS = {
  osv: { type: "string", multiple: true },
  kev: { type: "string" },
  format: { type: "string" },
  "fail-on": { type: "string" },
  "ignore-unscored": { type: "boolean" },
} as const;
