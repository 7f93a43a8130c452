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
}

export type HashAlgorithm = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

export interface Inventory {
  /** What the SBOM describes (the application, image or firmware). */
  subject: {
    name: string;
    version: string | undefined;
    supplier: string | undefined;
    purl: string | undefined;
  };
  packages: GeneratedPackage[];
  /** `ref`s the subject depends on directly (when known; otherwise every package is attached to it). */
  direct: string[] | undefined;
}

export interface GenerateOptions {
  /** Creation time (ISO 8601); defaults to now. Fixed values make output reproducible. */
  timestamp?: string;
  /** Person or organisation creating the SBOM. */
  author?: string;
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
  };
}
