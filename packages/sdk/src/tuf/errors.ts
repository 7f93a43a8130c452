/**
 * Typed errors of the TUF library: a closed `code` union, each code naming the attack or fault
 * that the TUF specification 1.0.x (§5 "Detailed client workflow") says the client must report.
 */
export type TufErrorCode =
  /** Not well-formed TUF metadata (§4 "Document formats"). */
  | "TUF_MALFORMED"
  /** Signatures do not reach a role's threshold (§5.3.4, §5.4.2, §5.5.3, §5.6.3: arbitrary software). */
  | "TUF_THRESHOLD_NOT_MET"
  /** A version went backwards or skipped (§5.3.5, §5.4.3, §5.5.5: rollback attack). */
  | "TUF_ROLLBACK"
  /** Expired metadata (§5.3.10, §5.4.4, §5.5.6, §5.6.5: freeze attack). */
  | "TUF_EXPIRED"
  /** Version, length or hashes differ from what a trusted role listed (§5.5.2, §5.5.4, §5.6.2, §5.6.4, §5.7.3: mix-and-match). */
  | "TUF_MISMATCH"
  /** A download longer than its limit or its listed length (§5.3.3, §5.4.1: endless data). */
  | "TUF_TOO_LARGE"
  /** A file the workflow needs could not be fetched. */
  | "TUF_FETCH_FAILED"
  /** A signing request or detached signature does not fit the metadata it is meant for. */
  | "TUF_SIGNING_REQUEST"
  /** A key type or scheme this library does not support. */
  | "TUF_UNSUPPORTED_KEY"
  /** No trusted targets role lists the target (§5.7.2). */
  | "TUF_TARGET_NOT_FOUND";

/** An error raised by the TUF library; `code` is stable, `message` is for people. */
export class TufError extends Error {
  readonly code: TufErrorCode;

  constructor(code: TufErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TufError";
    this.code = code;
  }
}

/** Whether `error` is a `TufError`, optionally of the given code. */
export function isTufError(error: unknown, code?: TufErrorCode): error is TufError {
  return error instanceof TufError && (code === undefined || error.code === code);
}
