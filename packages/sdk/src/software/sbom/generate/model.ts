/** What the SBOM generators know about a product and its packages, independent of the output format. */

export interface GeneratedPackage {
  /** Unique within the inventory; used as CycloneDX bom-ref and to build SPDX ids. */
  ref: string;
  name: string;
  version: string;
  purl: string | undefined;
  supplier: string | undefined;
  /** SPDX licence ids/expressions or free-text licence names as declared by the package. */
  licenses: string[];
  /** Algorithm → lower-case hex digest; algorithms named "SHA-1", "SHA-256", "SHA-384", "SHA-512". */
  hashes: Partial<Record<HashAlgorithm, string>>;
  /** `ref`s of the packages this one depends on. */
  dependsOn: string[];
  /** Development-only (npm "dev", Poetry group "dev"): emitted with CycloneDX scope "excluded". */
  development: boolean;
  /**
   * BSI TR-03183-2 v2.1.0 §5.2.2 "component creator": an e-mail address or URL of whoever created
   * the component, when the input names one (dpkg Maintainer); lockfiles do not.
   */
  creatorContact: string | undefined;
  /** §5.2.2 "filename of the component": the deployable file's name (no path), when the input knows it. */
  filename: string | undefined;
  /** §5.2.2 / §8.1.4–8.1.6: what kind of file the deployable is, when the input knows it. */
  fileKind: BsiFileKind | undefined;
  /**
   * §5.2.2 "the completeness of this enumeration MUST be clearly indicated": "complete" only when
   * the input enumerates every dependency of the package and each was found in it.
   */
  dependencyCompleteness: "complete" | "incomplete" | "unknown";
}

/** BSI TR-03183-2 v2.1.0 §8.1.4–8.1.6 (values as in §5.2.2 Table 3). */
export interface BsiFileKind {
  executable: "executable" | "non-executable";
  archive: "archive" | "no archive";
  structured: "structured" | "unstructured";
}

/**
 * §8.1.7 Table 7 ("rpm package: –, √, √"): a package archive (npm tarball, wheel, sdist, .deb) is a
 * structured archive; the code inside it is executable, the archive file itself is not.
 */
export const PACKAGE_ARCHIVE: BsiFileKind = {
  executable: "non-executable",
  archive: "archive",
  structured: "structured",
};

export type HashAlgorithm = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

export interface Inventory {
  /** What the SBOM describes (the application, image or firmware). */
  subject: {
    name: string;
    version: string | undefined;
    supplier: string | undefined;
    purl: string | undefined;
    /** §5.2.2 component creator of the primary component, when the input names one. */
    creatorContact?: string | undefined;
  };
  packages: GeneratedPackage[];
  /** `ref`s the subject depends on directly (when known; otherwise every package is attached to it). */
  direct: string[] | undefined;
  /** How complete `direct` is (TR-03183-2 §5.2.2), as for a package; unknown when not said. */
  directCompleteness?: GeneratedPackage["dependencyCompleteness"];
}

export interface GenerateOptions {
  /** Creation time (ISO 8601); defaults to now. Fixed values make output reproducible. */
  timestamp?: string;
  /**
   * BSI TR-03183-2 v2.1.0 §5.2.1 "creator of the SBOM": the name of the person or organisation and
   * an e-mail address (or, when none is available, a URL). Without it the SBOM names only the tool.
   */
  creator?: { name?: string; contact: string };
  /**
   * §5.2.2 "distribution licences": the licences under which the SBOM's creator passes each
   * component on. An input knows only the licence a package declares (its original licence, §3.2.8,
   * §5.2.4); "declared" states that each component is distributed under exactly that licence. This
   * is a statement of the SBOM's creator, never assumed: without it no distribution licence is written.
   */
  distributionLicences?: "declared";
  /** CycloneDX serialNumber / SPDX namespace suffix (a UUID); defaults to a random UUID. */
  uuid?: string;
}

export function newPackage(ref: string, name: string, version: string): GeneratedPackage {
  return {
    ref,
    name,
    version,
    purl: undefined,
    supplier: undefined,
    licenses: [],
    hashes: {},
    dependsOn: [],
    development: false,
    creatorContact: undefined,
    filename: undefined,
    fileKind: undefined,
    dependencyCompleteness: "unknown",
  };
}

const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;
const URL_TEXT = /^https?:\/\/[^\s]+$/i;

/** §5.2.1 / §5.2.2: an e-mail address, or a URL when no e-mail address is available. */
export function isContact(text: string): boolean {
  return EMAIL.test(text) || URL_TEXT.test(text);
}

/** The BSI TR-03183-2 §5.2.2 fields an inventory entry leaves unknown (said so in the output). */
export function unknownFields(p: GeneratedPackage, distribution: boolean): string[] {
  const out: string[] = [];
  if (p.creatorContact === undefined) out.push("component creator");
  if (p.filename === undefined) out.push("filename");
  if (p.hashes["SHA-512"] === undefined) out.push("SHA-512 of the deployable file");
  if (p.fileKind === undefined) out.push("executable/archive/structured properties");
  if (!distribution) out.push("distribution licences");
  if (p.dependencyCompleteness === "unknown") out.push("completeness of the dependencies");
  return out;
}

/**
 * The TR-03183-2 §5.2.2 fields the subject (the product as a logical component, §3.2.2, §8.1.3:
 * no file of its own here) leaves unknown. The dependency completeness is said where the format
 * has a place for it.
 */
export function subjectUnknownFields(subject: Inventory["subject"]): string[] {
  return [
    ...(subject.creatorContact === undefined ? ["component creator"] : []),
    ...(subject.version === undefined ? ["version"] : []),
    ...(subject.purl === undefined ? ["other unique identifiers"] : []),
    "filename",
    "SHA-512 of the deployable file",
    "executable/archive/structured properties",
    "distribution licences",
  ];
}
