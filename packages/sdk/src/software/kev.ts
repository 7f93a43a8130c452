/**
 * Reader for the CISA Known Exploited Vulnerabilities catalogue (JSON, plain or gzip-compressed), per its
 * published JSON schema (known_exploited_vulnerabilities_schema.json).
 */
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { SoftwareError } from "./errors.ts";

export interface KevEntry {
  cveId: string;
  vendorProject: string;
  product: string;
  vulnerabilityName: string;
  dateAdded: string;
  dueDate: string;
  /** "Known" or "Unknown" in the catalogue. */
  knownRansomwareCampaignUse: string;
}

export interface KevCatalog {
  catalogVersion: string;
  dateReleased: string;
  entries: ReadonlyMap<string, KevEntry>;
}

const CVE_ID = /^CVE-\d{4}-\d{4,}$/;
const MAX_KEV_BYTES = 64 * 1024 * 1024;

function bad(message: string, path: string): never {
  throw new SoftwareError("BW_ERR_KEV_INVALID", message, { path });
}

function str(o: Record<string, unknown>, key: string, where: string, required: boolean): string {
  const v = o[key];
  if (typeof v === "string") return v;
  if (v === undefined && !required) return "";
  return bad(`expected a string`, `${where}/${key}`);
}

/** Validates a decoded KEV catalogue. */
export function parseKevCatalog(doc: unknown, source = "kev"): KevCatalog {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) bad("expected an object", `${source}#`);
  const o = doc as Record<string, unknown>;
  // KEV schema: required catalogVersion, dateReleased, count, vulnerabilities.
  const catalogVersion = str(o, "catalogVersion", `${source}#`, true);
  const dateReleased = str(o, "dateReleased", `${source}#`, true);
  const vulns = o["vulnerabilities"];
  if (!Array.isArray(vulns)) bad("expected an array", `${source}#/vulnerabilities`);
  if (typeof o["count"] !== "number" || o["count"] !== vulns.length) {
    bad(`count ${String(o["count"])} does not match ${vulns.length} entries`, `${source}#/count`);
  }
  const entries = new Map<string, KevEntry>();
  vulns.forEach((v, i) => {
    const where = `${source}#/vulnerabilities/${i}`;
    if (typeof v !== "object" || v === null) bad("expected an object", where);
    const e = v as Record<string, unknown>;
    const cveId = str(e, "cveID", where, true);
    // KEV schema: cveID pattern ^CVE-[0-9]{4}-[0-9]{4,}$.
    if (!CVE_ID.test(cveId)) bad(`not a CVE id: ${cveId}`, `${where}/cveID`);
    entries.set(cveId, {
      cveId,
      vendorProject: str(e, "vendorProject", where, true),
      product: str(e, "product", where, true),
      vulnerabilityName: str(e, "vulnerabilityName", where, true),
      dateAdded: str(e, "dateAdded", where, true),
      dueDate: str(e, "dueDate", where, true),
      knownRansomwareCampaignUse: str(e, "knownRansomwareCampaignUse", where, false),
    });
  });
  return { catalogVersion, dateReleased, entries };
}

/** Reads the catalogue from a `.json` or `.json.gz` file (gzip detected by its magic bytes). */
export async function readKevCatalog(path: string): Promise<KevCatalog> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
    // RFC 1952 §2.3.1: gzip members start with 1f 8b.
    if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw, { maxOutputLength: MAX_KEV_BYTES });
  } catch (e) {
    throw new SoftwareError("BW_ERR_KEV_INVALID", `cannot read KEV catalogue: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  }
  if (raw.length > MAX_KEV_BYTES) bad(`larger than ${MAX_KEV_BYTES} bytes`, path);
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString("utf8"));
  } catch (e) {
    throw new SoftwareError("BW_ERR_KEV_INVALID", `not valid JSON: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  }
  return parseKevCatalog(doc, path);
}
