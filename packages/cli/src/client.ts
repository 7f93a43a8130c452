import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchPinnedCaCertificates } from "@bulwark/sdk/est/client";
import { type HttpsRequest, type HttpsResponse, httpsRequest } from "@bulwark/sdk/https";
import { type Problem, problemLine } from "./problems.ts";
import { type StreamUpload, streamUpload } from "./stream-upload.ts";

/** A CLI failure: one readable line and an exit code (1 refused or failed, 2 bad usage). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The server refused a request; the message is already in the CLI's words (see problems.ts). */
export class ProblemError extends CliError {
  readonly problem: Problem | undefined;
  readonly status: number;
  constructor(status: number, problem: Problem | undefined) {
    super(problem ? problemLine(problem) : `HTTP ${status}`, 1);
    this.status = status;
    this.problem = problem;
  }
}

// Network failures that mean nothing answered at that address, as the system names them.
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "the name did not resolve",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "the connection was reset",
  ETIMEDOUT: "timed out",
};

/** One HTTPS exchange; a server that cannot be reached is one readable line naming its URL. */
export async function reach(base: string, options: HttpsRequest): Promise<HttpsResponse> {
  try {
    return await httpsRequest(options);
  } catch (error) {
    throw unreachable(base, error);
  }
}

// TLS verification failures (OpenSSL's codes, as node:tls reports them): the server is there, not trusted.
const UNTRUSTED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * `error` in the CLI's words when it is a network failure ("the server is not reachable at URL
 * (connection refused)") or a server certificate this CLI does not trust; other errors as they are.
 */
export function unreachable(base: string, error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code && UNTRUSTED.has(code))
    return new CliError(
      `the server at ${base} is not trusted (${(error as Error).message}); check BULWARK_CA_FILE or BULWARK_CA_FINGERPRINT`,
      1,
    );
  const reason = code ? UNREACHABLE[code] : /timed out/i.test(String(error)) ? "timed out" : undefined;
  if (!reason) return error;
  return new CliError(`the server is not reachable at ${base} (${reason}); check BULWARK_URL`, 1);
}

export interface ApiClient {
  call<T>(method: string, path: string, body?: unknown, auth?: string): Promise<T>;
  /** Any headers in, the raw answer out (sign-in needs Set-Cookie); errors are not thrown. */
  send(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
  /** Sends a body as is (files: SBOMs, OSV bundles) with its content type. */
  upload<T>(method: string, path: string, body: Buffer, contentType: string): Promise<T>;
  /** Streams a file as the body (update artifacts, any size), reporting bytes sent. */
  uploadFile<T>(path: string, upload: StreamUpload): Promise<T>;
}

/** A problem document (RFC 9457) as one readable line in the CLI's words. */
export function problemMessage(status: number, text: string): string {
  return problemError(status, text).message;
}

/** The error for a refused request (status ≥ 400) with its problem document. */
export function problemError(status: number, text: string): ProblemError {
  return new ProblemError(status, parseProblem(text));
}

function parseProblem(text: string): Problem | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === "object" ? (value as Problem) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Trust for the server's TLS certificate: BULWARK_CA_FILE (PEM), else BULWARK_CA_FINGERPRINT
 * (root pinned as in RFC 7030 §4.1.1), else the root-ca.pem of a local data directory.
 */
async function trustAnchors(url: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.BULWARK_CA_FILE) return readFileSync(env.BULWARK_CA_FILE, "utf8");
  if (env.BULWARK_CA_FINGERPRINT)
    return fetchPinnedCaCertificates(url, env.BULWARK_CA_FINGERPRINT).catch((error: unknown) => {
      throw unreachable(url, error);
    });
  const local = join(env.BULWARK_DATA ?? "data", "root-ca.pem");
  if (existsSync(local)) return readFileSync(local, "utf8");
  throw new CliError(
    "set BULWARK_CA_FILE to the server's root-ca.pem or BULWARK_CA_FINGERPRINT to its SHA-256",
    2,
  );
}

export async function apiClient(env: NodeJS.ProcessEnv): Promise<ApiClient> {
  const base = env.BULWARK_URL ?? "https://127.0.0.1:8443";
  if (!URL.canParse(base) || new URL(base).protocol !== "https:")
    throw new CliError(`BULWARK_URL must be an https:// URL, got ${JSON.stringify(base)}`, 2);
  const ca = await trustAnchors(base, env);
  // An operator client certificate (issued by the server's Operator CA) signs in on its own.
  const clientCert = env.BULWARK_CLIENT_CERT ? readFileSync(env.BULWARK_CLIENT_CERT, "utf8") : undefined;
  const clientKey = env.BULWARK_CLIENT_KEY ? readFileSync(env.BULWARK_CLIENT_KEY, "utf8") : undefined;
  const send: ApiClient["send"] = async (method, path, options = {}) => {
    const res = await reach(base, {
      url: new URL(path, base).href,
      method,
      ca,
      cert: clientCert,
      key: clientKey,
      headers: {
        accept: "application/json",
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    return { status: res.status, headers: res.headers, text: res.body.toString("utf8") };
  };
  // Authenticated request with a JSON answer; a problem document becomes a one-line CliError.
  const request = async <T>(
    method: string,
    path: string,
    body: string | Buffer | undefined,
    contentType: string | undefined,
    auth?: string,
  ): Promise<T> => {
    const authorization = auth ?? (env.BULWARK_API_KEY ? `Bearer ${env.BULWARK_API_KEY}` : undefined);
    if (!authorization && !clientCert)
      throw new CliError("set BULWARK_API_KEY (an API key from the server) or BULWARK_CLIENT_CERT/KEY", 2);
    const res = await reach(base, {
      url: new URL(path, base).href,
      method,
      ca,
      cert: clientCert,
      key: clientKey,
      headers: {
        ...(authorization ? { authorization } : {}),
        accept: "application/json",
        ...(contentType === undefined ? {} : { "content-type": contentType }),
      },
      body,
    });
    const text = res.body.toString("utf8");
    if (res.status >= 400) throw new ProblemError(res.status, parseProblem(text));
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    send,
    call: <T>(method: string, path: string, body?: unknown, auth?: string) =>
      request<T>(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        body === undefined ? undefined : "application/json",
        auth,
      ),
    upload: <T>(method: string, path: string, body: Buffer, contentType: string) =>
      request<T>(method, path, body, contentType),
    uploadFile: async <T>(path: string, upload: StreamUpload) => {
      const authorization = env.BULWARK_API_KEY ? `Bearer ${env.BULWARK_API_KEY}` : undefined;
      if (!authorization && !clientCert)
        throw new CliError("set BULWARK_API_KEY (an API key from the server) or BULWARK_CLIENT_CERT/KEY", 2);
      const res = await streamUpload(
        new URL(path, base).href,
        { ca, cert: clientCert, key: clientKey, authorization },
        upload,
      );
      if (res.status >= 400) throw problemError(res.status, res.text);
      return JSON.parse(res.text) as T;
    },
  };
}
