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
  /**
   * BSI TR-03183-2 v2.1 §5.2.2 "component creator": the e-mail addresses and URLs of whoever created
   * the component (CycloneDX manufacturer url / contact e-mail, author e-mails; SPDX originator
   * e-mail; SPDX 3 originatedBy's e-mail / URL identifiers), not its supplier (§3.2.9).
   */
  creatorContacts: string[];
  /** §5.2.2 "filename of the component" (CycloneDX `bsi:component:filename`, SPDX 2 packageFileName, SPDX 3 distribution file). */
  filename: string | undefined;
  /**
   * §5.2.2 "distribution licences" as written (CycloneDX licences not acknowledged as "declared",
   * SPDX licenseConcluded / hasConcludedLicense); whether each is an identifier (§6.1) is the check's.
   */
  distributionLicenses: string[];
  /** §5.2.2 hashes of the deployable file (CycloneDX distribution externalReferences and the component's own, SPDX package / distribution file). */
  deployableHashes: SbomHash[];
  /** §5.2.2 executable / archive / structured properties (§8.1.4–8.1.6) as found, values unchecked. */
  bsiProperties: { executable?: string; archive?: string; structured?: string };
  /**
   * §5.2.2: how complete the document says this component's list of dependencies is (CycloneDX
   * compositions, SPDX 3 relationship completeness, SPDX 2 NONE / NOASSERTION targets); undefined
   * when it says nothing.
   */
  dependencyCompleteness: "complete" | "incomplete" | "unknown" | undefined;
  /**
   * BSI TR-03183-2 v2.1 §3.2.5: the other BOM this component is recorded in (CycloneDX
   * externalReferences type "bom"; SPDX 3 a software_Sbom with a buildMeta externalRef that
   * `describes` it, §8.2 "References to another BOM"); such a component needs only creator, name
   * and version here. Absent from documents stored before it was read.
   */
  referencedBom?: string | undefined;
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
  /** Dependency lists; a component declared to have none has an entry with an empty `dependsOn`. */
  dependencies: SbomDependency[];
  /** BSI TR-03183-2 v2.1 §5.2.1 "creator of the SBOM": e-mail addresses and URLs of whoever made it. */
  creatorContacts: string[];
  /** Where the document carries vulnerability information (TR-03183-2 v2.1 §3.1 forbids it): a few paths and the count. */
  vulnerabilityInfo: { count: number; where: string[] };
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
    creatorContacts: [],
    filename: undefined,
    distributionLicenses: [],
    deployableHashes: [],
    bsiProperties: {},
    dependencyCompleteness: undefined,
    referencedBom: undefined,
  };
}
