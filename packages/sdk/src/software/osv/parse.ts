/**
 * Parses and validates OSV records (JSON or YAML). Only the fields Bulwark evaluates are checked, each
 * error names the JSON path; `database_specific` and `ecosystem_specific` are never interpreted.
 */

import { parse as parseYaml } from "yaml";
import { SoftwareError } from "../errors.ts";
import { checkDepth } from "../sbom/bounds.ts";
import type { OsvAffected, OsvEvent, OsvPackage, OsvRange, OsvRecord, OsvSeverity } from "./types.ts";

type Json = Record<string, unknown>;

function fail(where: string, message: string, source: string | undefined): never {
  throw new SoftwareError("BW_ERR_OSV_INVALID", message, {
    path: source === undefined ? where : `${source}#${where}`,
  });
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Reader {
  readonly source: string | undefined;
  constructor(source: string | undefined) {
    this.source = source;
  }

  object(v: unknown, where: string): Json {
    if (!isObject(v)) fail(where, "expected an object", this.source);
    return v;
  }

  string(o: Json, key: string, where: string): string {
    const v = o[key];
    if (typeof v !== "string") fail(`${where}/${key}`, "expected a string", this.source);
    return v;
  }

  optString(o: Json, key: string, where: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") fail(`${where}/${key}`, "expected a string", this.source);
    return v;
  }

  array(o: Json, key: string, where: string): unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) fail(`${where}/${key}`, "expected an array", this.source);
    return v;
  }

  strings(o: Json, key: string, where: string): string[] {
    return this.array(o, key, where).map((v, i) => {
      if (typeof v !== "string") fail(`${where}/${key}/${i}`, "expected a string", this.source);
      return v;
    });
  }
}

const EVENT_KINDS = ["introduced", "fixed", "last_affected", "limit"] as const;

function readEvent(r: Reader, v: unknown, where: string): OsvEvent {
  const o = r.object(v, where);
  // OSV schema §affected.ranges.events "Requirements": only a single type is allowed in each event object.
  const present = EVENT_KINDS.filter((k) => o[k] !== undefined);
  if (present.length !== 1)
    fail(where, "an event must have exactly one of introduced/fixed/last_affected/limit", r.source);
  const kind = present[0]!;
  return { kind, version: r.string(o, kind, where) };
}

function readRange(r: Reader, v: unknown, where: string): OsvRange {
  const o = r.object(v, where);
  const type = r.string(o, "type", where);
  if (type !== "SEMVER" && type !== "ECOSYSTEM" && type !== "GIT") {
    fail(`${where}/type`, `unknown range type ${JSON.stringify(type)}`, r.source);
  }
  const events = r.array(o, "events", where).map((e, i) => readEvent(r, e, `${where}/events/${i}`));
  // OSV schema §affected.ranges.events: "There must be at least one introduced object".
  if (!events.some((e) => e.kind === "introduced")) fail(`${where}/events`, "no introduced event", r.source);
  // OSV schema §affected.ranges.events: "may be last_affected or fixed events, but not both".
  if (events.some((e) => e.kind === "fixed") && events.some((e) => e.kind === "last_affected")) {
    fail(`${where}/events`, "both fixed and last_affected events", r.source);
  }
  const repo = r.optString(o, "repo", where);
  // OSV schema §affected.ranges.repo: "required if type is GIT".
  if (type === "GIT" && repo === undefined) fail(`${where}/repo`, "GIT range without repo", r.source);
  return { type, repo, events };
}

function readSeverity(r: Reader, o: Json, where: string): OsvSeverity[] {
  return r.array(o, "severity", where).map((v, i) => {
    const s = r.object(v, `${where}/severity/${i}`);
    return {
      type: r.string(s, "type", `${where}/severity/${i}`),
      score: r.string(s, "score", `${where}/severity/${i}`),
    };
  });
}

function readPackage(r: Reader, v: unknown, where: string): OsvPackage | undefined {
  if (v === undefined || v === null) return undefined;
  const o = r.object(v, where);
  return {
    ecosystem: r.string(o, "ecosystem", where),
    name: r.string(o, "name", where),
    purl: r.optString(o, "purl", where),
  };
}

function readAffected(r: Reader, v: unknown, where: string): OsvAffected {
  const o = r.object(v, where);
  return {
    package: readPackage(r, o["package"], `${where}/package`),
    ranges: r.array(o, "ranges", where).map((x, i) => readRange(r, x, `${where}/ranges/${i}`)),
    versions: r.strings(o, "versions", where),
    severity: readSeverity(r, o, where),
  };
}

/** Validates a decoded OSV document. `source` (a file path) is prefixed to error paths. */
export function validateOsvRecord(doc: unknown, source?: string): OsvRecord {
  const r = new Reader(source);
  const o = r.object(doc, "");
  // OSV schema §id, §modified: required.
  const id = r.string(o, "id", "");
  if (id === "") fail("/id", "empty id", source);
  return {
    schemaVersion: r.optString(o, "schema_version", ""),
    id,
    modified: r.string(o, "modified", ""),
    published: r.optString(o, "published", ""),
    withdrawn: r.optString(o, "withdrawn", ""),
    aliases: r.strings(o, "aliases", ""),
    related: r.strings(o, "related", ""),
    summary: r.optString(o, "summary", ""),
    details: r.optString(o, "details", ""),
    severity: readSeverity(r, o, ""),
    affected: r.array(o, "affected", "").map((a, i) => readAffected(r, a, `/affected/${i}`)),
  };
}

export type OsvFormat = "json" | "yaml";

function boundDepth(text: string, source: string | undefined): void {
  try {
    checkDepth(text, {}, source);
  } catch (e) {
    throw new SoftwareError("BW_ERR_OSV_INVALID", "the record is nested too deeply", {
      path: source,
      cause: e,
    });
  }
}

export function osvFormatOf(path: string): OsvFormat | undefined {
  const p = path.toLowerCase();
  if (p.endsWith(".json")) return "json";
  if (p.endsWith(".yaml") || p.endsWith(".yml")) return "yaml";
  return undefined;
}

/** Parses OSV text in the given format and validates it. */
export function parseOsvText(text: string, format: OsvFormat, source?: string): OsvRecord {
  let doc: unknown;
  // OSV records nest a few levels; the SBOMs' bound (64) applies. YAML's parser refuses runaway
  // nesting itself (a parse error), and its scalars may hold brackets, so only JSON is counted.
  if (format === "json") boundDepth(text, source);
  try {
    // YAML: the core schema keeps timestamps as strings; aliases are capped against expansion attacks.
    doc = format === "json" ? JSON.parse(text) : parseYaml(text, { schema: "core", maxAliasCount: 100 });
  } catch (e) {
    throw new SoftwareError(
      "BW_ERR_OSV_INVALID",
      `not valid ${format.toUpperCase()}: ${(e as Error).message}`,
      {
        path: source,
        cause: e,
      },
    );
  }
  return validateOsvRecord(doc, source);
}
