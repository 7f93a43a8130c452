/**
 * The platform-wide error catalogue: every error a caller can see has a stable `BW_ERR_*` code,
 * an HTTP status and a short title. Callers get the code, title and a safe detail; the internal
 * cause stays in the server log (see `docs/errors.md`, kept in sync by a test).
 */
export const errorCatalogue = {
  BW_ERR_VALIDATION: { status: 400, title: "The request is not valid" },
  BW_ERR_CSR_MALFORMED: { status: 400, title: "The certificate signing request cannot be parsed" },
  BW_ERR_CSR_SIGNATURE: { status: 400, title: "The certificate signing request signature does not verify" },
  BW_ERR_CSR_POLICY: { status: 400, title: "The certificate signing request breaks the enrolment policy" },
  BW_ERR_UNAUTHENTICATED: { status: 401, title: "Authentication is required" },
  BW_ERR_ENROLMENT_TOKEN_INVALID: {
    status: 401,
    title: "The enrolment token is unknown, used up or expired",
  },
  BW_ERR_FORBIDDEN: { status: 403, title: "This action is not permitted for the caller" },
  BW_ERR_PASSWORD_CHANGE_REQUIRED: { status: 403, title: "The password must be changed first" },
  BW_ERR_NOT_FOUND: { status: 404, title: "The resource does not exist" },
  BW_ERR_ROUTE_NOT_FOUND: { status: 404, title: "No such endpoint" },
  BW_ERR_GROUP_NOT_FOUND: { status: 404, title: "The device group does not exist" },
  BW_ERR_DEVICE_NOT_FOUND: { status: 404, title: "The device does not exist" },
  BW_ERR_METHOD_NOT_ALLOWED: { status: 405, title: "The method is not allowed on this endpoint" },
  BW_ERR_NOT_ACCEPTABLE: { status: 406, title: "No acceptable representation" },
  BW_ERR_CONFLICT: { status: 409, title: "The request conflicts with the current state" },
  BW_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: "The request body is too large" },
  BW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "The request content type is not supported" },
  BW_ERR_RATE_LIMITED: { status: 429, title: "Too many requests" },
  BW_ERR_CLIENT_CERTIFICATE_REQUIRED: {
    status: 401,
    title: "A client certificate over mutual TLS is required",
  },
  BW_ERR_CERTIFICATE_INVALID: {
    status: 401,
    title: "The client certificate is expired, revoked or unknown",
  },
  BW_ERR_BOOTSTRAP_SECRET_INVALID: {
    status: 401,
    title: "The serial number is not registered or the bootstrap secret is wrong",
  },
  BW_ERR_CLAIM_CA_UNKNOWN: {
    status: 401,
    title: "The claim certificate is not from a registered manufacturing CA",
  },
  BW_ERR_ENROLMENT_METHOD_NOT_ALLOWED: {
    status: 403,
    title: "The group's provisioning policy does not allow this enrolment method",
  },
  BW_ERR_CERTIFICATE_NOT_FOUND: { status: 404, title: "The certificate does not exist" },
  BW_ERR_CA_NOT_FOUND: { status: 404, title: "The certificate authority does not exist" },
  BW_ERR_RENEWAL_NOT_DUE: {
    status: 409,
    title: "The certificate is not yet inside its renewal window",
  },
  BW_ERR_INTERNAL: { status: 500, title: "Internal error" },
  BW_ERR_ACCOUNT_LOCKED: { status: 429, title: "The account is locked after too many failed sign-ins" },
  BW_ERR_MFA_REQUIRED: { status: 401, title: "A second factor is required" },
  BW_ERR_MFA_INVALID: { status: 401, title: "The second factor is wrong or already used" },
  BW_ERR_MFA_ENROLMENT_REQUIRED: {
    status: 403,
    title: "The role requires a second factor to be enrolled first",
  },
  BW_ERR_CSRF: { status: 403, title: "The CSRF token is missing or wrong" },
  BW_ERR_UNAVAILABLE: { status: 503, title: "The service is not available" },
  BW_ERR_DEVICE_TRANSITION: { status: 409, title: "The device cannot make this status change" },
  BW_ERR_DEVICE_NOT_ALLOWED: { status: 403, title: "The device may not do this in its current status" },
  BW_ERR_WIPE_RECEIPT_INVALID: {
    status: 403,
    title: "The wipe receipt does not verify against a wipe of the device",
  },
  BW_ERR_POLICY_NOT_FOUND: { status: 404, title: "The device policy does not exist" },
  BW_ERR_SBOM_INVALID: { status: 400, title: "The SBOM is not valid" },
  BW_ERR_SBOM_TOO_LARGE: { status: 413, title: "The SBOM is too large" },
  BW_ERR_SBOM_TOO_DEEP: { status: 400, title: "The SBOM is nested too deeply" },
  BW_ERR_SBOM_UNSUPPORTED: { status: 415, title: "The SBOM format or version is not supported" },
  BW_ERR_LOCKFILE_INVALID: { status: 400, title: "The lock or requirements file is not valid" },
  BW_ERR_MANIFEST_INVALID: { status: 400, title: "The firmware manifest is not valid" },
  BW_ERR_OSV_INVALID: { status: 400, title: "An OSV record is not valid" },
  BW_ERR_OSV_TOO_LARGE: { status: 413, title: "An OSV record or bundle is too large" },
  BW_ERR_OSV_TOO_MANY: { status: 413, title: "The OSV bundle holds too many records" },
  BW_ERR_BUNDLE_UNREADABLE: { status: 400, title: "The OSV bundle cannot be read" },
  BW_ERR_KEV_INVALID: { status: 400, title: "The KEV catalogue is not valid" },
  BW_ERR_KEV_STALE: { status: 409, title: "The KEV catalogue is older than the one already imported" },
  BW_ERR_VERSION_INVALID: { status: 400, title: "A version string is not valid in its ecosystem" },
  BW_ERR_ECOSYSTEM_UNSUPPORTED: { status: 400, title: "The package ecosystem is not supported" },
  BW_ERR_CVSS_INVALID: { status: 400, title: "A CVSS vector is not valid" },
  BW_ERR_WEBHOOK_INSECURE_URL: { status: 400, title: "The webhook URL must use https" },
  // Issue #15: secure updates.
  BW_ERR_RANGE_NOT_SATISFIABLE: { status: 416, title: "The requested byte range is not satisfiable" },
  BW_ERR_VERSION_NOT_INCREASING: {
    status: 409,
    title: "The release version does not exceed the last published one",
  },
  BW_ERR_RELEASE_NOT_PUBLISHABLE: { status: 409, title: "The release cannot be published as it is" },
  BW_ERR_TUF_SIGNING: { status: 409, title: "The update metadata cannot be signed as asked" },
  BW_ERR_ANTI_ROLLBACK: {
    status: 409,
    title: "The release is below the anti-rollback floor of a targeted device",
  },
  BW_ERR_DELTA_UNSUPPORTED: {
    status: 409,
    title: "A targeted device's agent cannot apply the release's delta format",
  },
  // Issue #16: CSAF 2.0 §6.1 / §9.1.14.
  BW_ERR_CSAF_INVALID: {
    status: 422,
    title: "The CSAF document fails the schema or a mandatory test",
  },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error with a catalogue code. `detail` is safe to show the caller; `cause` is internal only. */
export class BulwarkError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  /** RFC 9457 §3.2 extension members, safe to show the caller (e.g. the list of failed checks). */
  readonly extensions: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown; extensions?: Record<string, unknown> },
  ) {
    super(detail ?? errorCatalogue[code].title, options);
    this.name = "BulwarkError";
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.detail = detail;
    this.extensions = options?.extensions;
  }
}

export function isBulwarkError(value: unknown): value is BulwarkError {
  return value instanceof BulwarkError;
}

/** RFC 9457 §3.1 problem details members. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ErrorCode;
  [extension: string]: unknown;
}

/** RFC 9457 §3: the problem document for an error; `type` resolves to the catalogue docs. */
export function toProblem(error: BulwarkError, instance?: string): ProblemDetails {
  const entry = errorCatalogue[error.code];
  const problem: ProblemDetails = {
    // RFC 9457 §3.2: extension members first, so they never shadow a standard member.
    ...error.extensions,
    type: `/problems/${error.code}`,
    title: entry.title,
    status: entry.status,
    code: error.code,
  };
  if (error.detail !== undefined) problem.detail = error.detail;
  if (instance !== undefined) problem.instance = instance;
  return problem;
}
