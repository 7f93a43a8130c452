/** The format-independent SBOM model every parser normalises into. */

export interface SbomHash {
  /** Algorithm as named by the source format, upper-cased ("SHA-256", "SHA256"). */
  algorithm: string;
  value: string;
}

export interface SbomComponent {
  /** Identity inside the document: CycloneDX bom-ref, SPDX SPDXID, or a synthesised "component-N". */
  ref: string;
  /** The `ref` of the component this one is nested in (CycloneDX components[].components), if any. */
  parentRef: string | undefined;
  type: string | undefined;
  name: string;
  version: string | undefined;
  /** Canonical purl text (identity across documents), if the component has a valid purl. */
  purl: string | undefined;
  /** OSV ecosystem derived from the purl type ("npm", "PyPI", "Debian:12", ...), if known. */
  ecosystem: string | undefined;
  /** The package name as OSV names it in that ecosystem (Maven "group:artifact", Go module path, ...). */
  packageName: string | undefined;
  cpe: string | undefined;
  supplier: string | undefined;
  author: string | undefined;
  hashes: SbomHash[];
  /** SPDX licence expressions / ids / names as found. */
  licenses: string[];
  /** Other identifiers (SWID tag ids, SPDX externalRefs other than purl/cpe). */
  otherIds: string[];
}

export interface SbomDependency {
  ref: string;
  dependsOn: string[];
}

export type SbomFormat = "cyclonedx" | "spdx";

export interface SbomDocument {
  format: SbomFormat;
  specVersion: string;
  /** CycloneDX serialNumber or SPDX documentNamespace / 3.0 document id. */
  id: string | undefined;
  name: string | undefined;
  timestamp: string | undefined;
  /** People or organisations who made the SBOM (CycloneDX metadata.authors/manufacture, SPDX Person/Organization creators). */
  authors: string[];
  /** Tools that made the SBOM. */
  tools: string[];
  /** The ref of the component the SBOM describes (CycloneDX metadata.component, SPDX documentDescribes). */
  subjectRef: string | undefined;
  components: SbomComponent[];
  dependencies: SbomDependency[];
}

export function emptyComponent(ref: string, name: string): SbomComponent {
  return {
    ref,
    parentRef: undefined,
    type: undefined,
    name,
    version: undefined,
    purl: undefined,
    ecosystem: undefined,
    packageName: undefined,
    cpe: undefined,
    supplier: undefined,
    author: undefined,
    hashes: [],
    licenses: [],
    otherIds: [],
  };
}
