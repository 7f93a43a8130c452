/**
 * Checks an SBOM against the minimum elements of NTIA "The Minimum Elements For a Software Bill of
 * Materials" (2021, §Data Fields) and BSI TR-03183-2 v2.1.0 (2025-08-20: §3.1 no vulnerability
 * information, §4 formats, §5.1 level of detail, §5.2.1 / §5.2.2 required data fields, §6.1 licence
 * identifiers, mapped to the formats as in its §8.2), as a structured list of gaps.
 */
import type { SbomComponent, SbomDocument } from "./model.ts";

export type MinimumElementsStandard = "NTIA" | "BSI-TR-03183-2";

export interface MinimumElementGap {
  standard: MinimumElementsStandard;
  element: string;
  /** The clause of the standard the gap is against ("§5.2.2"); reports made before v2.1 have none. */
  clause?: string;
  scope: "document" | "component";
  /** Components lacking it (at most 50 listed), for component-scope gaps. */
  componentRefs: string[];
  /** Components lacking it; for a document gap, 1 (or the number of offending records). */
  missingCount: number;
  /** What was found instead, where that helps (a format version, where vulnerability records sit). */
  detail?: string;
}

export interface MinimumElementsReport {
  components: number;
  /** The version of BSI TR-03183-2 checked against ("2.1.0"); reports made before have none (v2.0). */
  bsiVersion?: string;
  ntiaConforms: boolean;
  bsiConforms: boolean;
  gaps: MinimumElementGap[];
}

export const BSI_TR_03183_2_VERSION = "2.1.0";

type Check = (c: SbomComponent) => boolean;

const LISTED = 50;

function inGraph(doc: SbomDocument): Set<string> {
  const s = new Set<string>();
  for (const d of doc.dependencies) {
    s.add(d.ref);
    for (const t of d.dependsOn) s.add(t);
  }
  return s;
}

export function checkMinimumElements(doc: SbomDocument): MinimumElementsReport {
  const gaps: MinimumElementGap[] = [];
  const graph = inGraph(doc);
  const single = doc.components.length <= 1;
  const documentGap = (standard: MinimumElementsStandard, element: string, ok: boolean): void => {
    if (!ok) gaps.push({ standard, element, scope: "document", componentRefs: [], missingCount: 1 });
  };
  const componentGap = (standard: MinimumElementsStandard, element: string, ok: Check): void => {
    const missing = doc.components.filter((c) => !ok(c));
    if (missing.length > 0) {
      gaps.push({
        standard,
        element,
        scope: "component",
        componentRefs: missing.slice(0, LISTED).map((c) => c.ref),
        missingCount: missing.length,
      });
    }
  };
  const hasDependency: Check = (c) => single || graph.has(c.ref);

  // NTIA §Data Fields: supplier name, component name, version, other unique identifiers,
  // dependency relationship; §Data Fields: author of SBOM data, timestamp.
  componentGap("NTIA", "supplier name", (c) => c.supplier !== undefined);
  componentGap("NTIA", "component name", (c) => c.name !== "");
  componentGap("NTIA", "version", (c) => c.version !== undefined);
  componentGap(
    "NTIA",
    "other unique identifiers",
    (c) => c.purl !== undefined || c.cpe !== undefined || c.otherIds.length > 0,
  );
  componentGap("NTIA", "dependency relationship", hasDependency);
  documentGap("NTIA", "author of SBOM data", doc.authors.length > 0 || doc.tools.length > 0);
  documentGap("NTIA", "timestamp", doc.timestamp !== undefined);

  checkBsiTr03183(doc, gaps);

  return {
    components: doc.components.length,
    bsiVersion: BSI_TR_03183_2_VERSION,
    ntiaConforms: !gaps.some((g) => g.standard === "NTIA"),
    bsiConforms: !gaps.some((g) => g.standard === "BSI-TR-03183-2"),
    gaps,
  };
}

const BSI = "BSI-TR-03183-2";
const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;
const URL_TEXT = /^https?:\/\/[^\s]+$/i;
const SHA512_HEX = /^[0-9a-f]{128}$/;

/** §5.2.1 / §5.2.2: an e-mail address, or a URL when no e-mail is known. */
const isContact = (v: string): boolean => EMAIL.test(v) || URL_TEXT.test(v);

/**
 * §6.1: a licence is named by an SPDX identifier, an SPDX expression over identifiers, or a
 * LicenseRef-; a name alone, NONE or NOASSERTION is not one. The identifiers are checked for form,
 * not against the SPDX list (which changes).
 */
export function isLicenceIdentifier(text: string): boolean {
  if (text.startsWith("name:")) return /^name:LicenseRef-[A-Za-z0-9.-]+$/.test(text);
  const tokens = text.replace(/[()]/g, " $& ").trim().split(/\s+/);
  if (tokens.length === 0 || tokens[0] === "") return false;
  return tokens.every(
    (t) =>
      t === "(" ||
      t === ")" ||
      t === "AND" ||
      t === "OR" ||
      t === "WITH" ||
      (t !== "NONE" && t !== "NOASSERTION" && /^(DocumentRef-[A-Za-z0-9.-]+:)?[A-Za-z0-9.-]+\+?$/.test(t)),
  );
}

// §4: CycloneDX 1.6 or higher, SPDX 3.0.1 or higher (v2.0 accepted CycloneDX 1.5 and SPDX 2.2.1;
// §7 let that version be applied only until six months after v2.1.0 was issued, 2026-02-20).
function formatVersionOk(doc: SbomDocument): boolean {
  const [major = 0, minor = 0, patch = 0] = doc.specVersion.split(".").map((n) => Number.parseInt(n, 10));
  const at = major * 10_000 + minor * 100 + patch;
  return doc.format === "cyclonedx" ? at >= 10_600 : at >= 30_001;
}

/** BSI TR-03183-2 v2.1.0: the rules of §3.1, §4, §5.1, §5.2.1, §5.2.2 (and §5.2.4's identifiers). */
function checkBsiTr03183(doc: SbomDocument, gaps: MinimumElementGap[]): void {
  const spdx2 = doc.format === "spdx" && doc.specVersion.startsWith("2.");
  const document = (element: string, clause: string, ok: boolean, detail?: string, count = 1): void => {
    if (!ok)
      gaps.push({
        standard: BSI,
        element,
        clause,
        scope: "document",
        componentRefs: [],
        missingCount: count,
        ...(detail === undefined ? {} : { detail }),
      });
  };
  // §5.1 order: a referenced component (§3.2.5) needs only creator, name and version; the other
  // fields are the referenced BOM's. (Identified §3.2.4 and logical §3.2.2 components need fewer
  // fields too, but no format field marks them, §8.2 maps none: they are held to the full list.)
  const component = (
    element: string,
    clause: string,
    ok: Check,
    detail?: string,
    ofReferenced = false,
  ): void => {
    const missing = doc.components.filter((c) => (ofReferenced || c.referencedBom === undefined) && !ok(c));
    if (missing.length > 0)
      gaps.push({
        standard: BSI,
        element,
        clause,
        scope: "component",
        componentRefs: missing.slice(0, LISTED).map((c) => c.ref),
        missingCount: missing.length,
        ...(detail === undefined ? {} : { detail }),
      });
  };
  const noSpdx2Field = spdx2 ? "SPDX 2 has no field for it (TR §8.2 maps it for SPDX 3.0.1)" : undefined;

  // §4: the format and its version.
  document(
    "SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)",
    "§4",
    formatVersionOk(doc),
    `${doc.format === "cyclonedx" ? "CycloneDX" : "SPDX"} ${doc.specVersion}`,
  );
  // §3.1 (and §8.1.14): "An SBOM MUST NOT contain vulnerability information".
  document(
    "no vulnerability information",
    "§3.1",
    doc.vulnerabilityInfo.count === 0,
    `${doc.vulnerabilityInfo.count} record(s): ${doc.vulnerabilityInfo.where.join(", ")}`,
    doc.vulnerabilityInfo.count,
  );
  // §5.2.1: creator of the SBOM (e-mail, else URL) and the timestamp of its compilation.
  document("creator of the SBOM (e-mail or URL)", "§5.2.1", doc.creatorContacts.some(isContact));
  document("timestamp", "§5.2.1", doc.timestamp !== undefined && !Number.isNaN(Date.parse(doc.timestamp)));

  // §5.2.2: the required data fields of every component (the primary one included, §3.2.1).
  // Dependencies are listed in the dependency graph, or, for what a component contains (§3.2.7),
  // by nesting (CycloneDX components[].components, §8.2 Table 9).
  const declared = new Set(doc.dependencies.map((d) => d.ref));
  for (const c of doc.components) if (c.parentRef !== undefined) declared.add(c.parentRef);
  component(
    "component creator (e-mail or URL)",
    "§5.2.2",
    (c) => c.creatorContacts.some(isContact),
    undefined,
    true,
  );
  component("component name", "§5.2.2", (c) => c.name !== "", undefined, true);
  component("component version", "§5.2.2", (c) => c.version !== undefined, undefined, true);
  // "the actual filename of the component (i.e. not its file system path)".
  component(
    "filename of the component",
    "§5.2.2",
    (c) => c.filename !== undefined && !/[\\/]/.test(c.filename),
    spdx2 ? "read from packageFileName" : undefined,
  );
  // "Enumeration of all components on which this component is directly dependent": in CycloneDX a
  // component without dependencies is still declared, with an empty dependsOn (§8.2 Table 9).
  component("dependencies on other components", "§5.2.2", (c) => declared.has(c.ref));
  // "the completeness of this enumeration MUST be clearly indicated" (CycloneDX compositions
  // aggregate, SPDX 3 relationship completeness).
  component(
    "completeness of the dependencies indicated",
    "§5.2.2",
    (c) => c.dependencyCompleteness !== undefined,
    spdx2 ? "SPDX 2 can state it only for a leaf (a relationship to NONE)" : undefined,
  );
  // §5.1: recursive dependency resolution MUST be performed, so an enumeration declared incomplete
  // (or of unknown completeness) falls short of it.
  component(
    "dependencies complete (not declared incomplete or unknown)",
    "§5.1",
    (c) => c.dependencyCompleteness !== "incomplete" && c.dependencyCompleteness !== "unknown",
  );
  component("distribution licences (SPDX identifier or expression)", "§5.2.2, §6.1", (c) =>
    c.distributionLicenses.some(isLicenceIdentifier),
  );
  component("hash value of the deployable component (SHA-512)", "§5.2.2", (c) =>
    c.deployableHashes.some((h) => h.algorithm.replace("-", "") === "SHA512" && SHA512_HEX.test(h.value)),
  );
  component(
    "executable property",
    "§5.2.2, §8.1.4",
    (c) => c.bsiProperties.executable === "executable" || c.bsiProperties.executable === "non-executable",
    noSpdx2Field,
  );
  component(
    "archive property",
    "§5.2.2, §8.1.5",
    (c) => c.bsiProperties.archive === "archive" || c.bsiProperties.archive === "no archive",
    noSpdx2Field,
  );
  component(
    "structured property",
    "§5.2.2, §8.1.6",
    (c) => c.bsiProperties.structured === "structured" || c.bsiProperties.structured === "unstructured",
    noSpdx2Field,
  );
  // §5.2.4 (required "if it exists"; needed to look the component up in vulnerability databases).
  component(
    "other unique identifiers (purl, CPE or SWID)",
    "§5.2.4",
    (c) => c.purl !== undefined || c.cpe !== undefined || c.otherIds.some((i) => i.startsWith("swid:")),
  );
}
