/** Stable error codes of the software-trust engine; the platform maps them into its error catalogue. */
export type SoftwareErrorCode =
  | "BW_ERR_VERSION_INVALID"
  | "BW_ERR_ECOSYSTEM_UNSUPPORTED"
  | "BW_ERR_OSV_INVALID"
  | "BW_ERR_OSV_TOO_LARGE"
  | "BW_ERR_OSV_TOO_MANY"
  | "BW_ERR_BUNDLE_UNREADABLE"
  | "BW_ERR_CVSS_INVALID"
  | "BW_ERR_KEV_INVALID"
  | "BW_ERR_SBOM_INVALID"
  | "BW_ERR_SBOM_TOO_LARGE"
  | "BW_ERR_SBOM_TOO_DEEP"
  | "BW_ERR_SBOM_UNSUPPORTED"
  | "BW_ERR_LOCKFILE_INVALID"
  | "BW_ERR_MANIFEST_INVALID";

export interface SoftwareErrorOptions {
  /** Where the problem is: a file path, a JSON pointer, or both ("bundle.tar.gz!vulns/x.yaml#/affected/0"). */
  path?: string;
  /** Extra human-readable detail (never secret material). */
  detail?: string;
  cause?: unknown;
}

export class SoftwareError extends Error {
  readonly code: SoftwareErrorCode;
  readonly path: string | undefined;
  readonly detail: string | undefined;

  constructor(code: SoftwareErrorCode, message: string, options: SoftwareErrorOptions = {}) {
    const where = options.path === undefined ? "" : ` (at ${options.path})`;
    super(`${code}: ${message}${where}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SoftwareError";
    this.code = code;
    this.path = options.path;
    this.detail = options.detail;
  }
}

export function isSoftwareError(e: unknown, code?: SoftwareErrorCode): e is SoftwareError {
  return e instanceof SoftwareError && (code === undefined || e.code === code);
}
