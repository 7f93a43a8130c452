/**
 * Checks an SBOM against the minimum elements of NTIA "The Minimum Elements For a Software Bill of
 * Materials" (2021, §Data Fields) and BSI TR-03183-2 v2.0 (§5.2 required data fields), as a structured list.
 */
import type { SbomComponent, SbomDocument } from "./model.ts";

export type MinimumElementsStandard = "NTIA" | "BSI-TR-03183-2";

export interface MinimumElementGap {
  standard: MinimumElementsStandard;
  element: string;
  scope: "document" | "component";
  /** Components lacking it (at most 50 listed), for component-scope gaps. */
  componentRefs: string[];
  missingCount: number;
}

export interface MinimumElementsReport {
  components: number;
  ntiaConforms: boolean;
  bsiConforms: boolean;
  gaps: MinimumElementGap[];
}

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

  // BSI TR-03183-2 §5.2.1: creator of the SBOM, timestamp.
  documentGap("BSI-TR-03183-2", "creator of the SBOM", doc.authors.length > 0);
  documentGap("BSI-TR-03183-2", "timestamp", doc.timestamp !== undefined);
  // BSI TR-03183-2 §5.2.2: component creator, name, version, dependencies, distribution licence, hash (SHA-512).
  componentGap(
    "BSI-TR-03183-2",
    "component creator",
    (c) => c.author !== undefined || c.supplier !== undefined,
  );
  componentGap("BSI-TR-03183-2", "component name", (c) => c.name !== "");
  componentGap("BSI-TR-03183-2", "component version", (c) => c.version !== undefined);
  componentGap("BSI-TR-03183-2", "dependencies on other components", hasDependency);
  componentGap("BSI-TR-03183-2", "distribution licences", (c) => c.licenses.length > 0);
  componentGap("BSI-TR-03183-2", "hash value of the deliverable (SHA-512)", (c) =>
    c.hashes.some((h) => h.algorithm.replace("-", "") === "SHA512"),
  );
  // BSI TR-03183-2 §5.2.4 (additional, if available): unique identifiers (CPE or purl).
  componentGap(
    "BSI-TR-03183-2",
    "unique identifiers (purl or CPE)",
    (c) => c.purl !== undefined || c.cpe !== undefined,
  );

  return {
    components: doc.components.length,
    ntiaConforms: !gaps.some((g) => g.standard === "NTIA"),
    bsiConforms: !gaps.some((g) => g.standard === "BSI-TR-03183-2"),
    gaps,
  };
}
