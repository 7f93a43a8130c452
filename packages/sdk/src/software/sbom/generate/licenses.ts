/** Classifies licence strings against the SPDX licence list vendored with the CycloneDX schemas. */
import { readFileSync } from "node:fs";

let ids: Set<string> | undefined;

/** SPDX licence ids (the enum of CycloneDX's spdx.schema.json). */
export function spdxLicenseIds(): ReadonlySet<string> {
  if (ids === undefined) {
    const schema = JSON.parse(
      readFileSync(new URL("../schemas/spdx.schema.json", import.meta.url), "utf8"),
    ) as {
      enum: string[];
    };
    ids = new Set(schema.enum);
  }
  return ids;
}

export type LicenseKind = "id" | "expression" | "name";

// SPDX 2.3 Annex D: license expressions combine ids with AND, OR, WITH, "+" and parentheses.
export function classifyLicense(text: string): LicenseKind {
  const known = spdxLicenseIds();
  if (known.has(text)) return "id";
  const tokens = text
    .replace(/[()]/g, " ")
    .split(/\s+/)
    .filter((t) => t !== "");
  if (tokens.length === 0) return "name";
  const valid = tokens.every(
    (t) =>
      t === "AND" ||
      t === "OR" ||
      t === "WITH" ||
      known.has(t.replace(/\+$/, "")) ||
      /^LicenseRef-[A-Za-z0-9.-]+$/.test(t),
  );
  return valid && tokens.length > 1 ? "expression" : valid ? "id" : "name";
}
