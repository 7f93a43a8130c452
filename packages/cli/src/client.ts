import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchPinnedCaCertificates } from "@bulwark/sdk/est/client";
import { httpsRequest } from "@bulwark/sdk/https";
import { type StreamUpload, streamUpload } from "./stream-upload.ts";

/** A CLI failure: one readable line and an exit code (1 refused or failed, 2 bad usage). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
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

/** A problem document (RFC 9457) as one readable line. */
export function problemMessage(status: number, text: string): string {
  try {
    const problem = JSON.parse(text) as { code?: string; detail?: string; title?: string };
    return `${problem.detail ?? problem.title} (${problem.code})`;
  } catch {
    return `HTTP ${status}`;
  }
}

/**
 * Trust for the server's TLS certificate: BULWARK_CA_FILE (PEM), else BULWARK_CA_FINGERPRINT
 * (root pinned as in RFC 7030 §4.1.1), else the root-ca.pem of a local data directory.
 */
async function trustAnchors(url: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.BULWARK_CA_FILE) return readFileSync(env.BULWARK_CA_FILE, "utf8");
  if (env.BULWARK_CA_FINGERPRINT) return fetchPinnedCaCertificates(url, env.BULWARK_CA_FINGERPRINT);
  const local = join(env.BULWARK_DATA ?? "data", "root-ca.pem");
  if (existsSync(local)) return readFileSync(local, "utf8");
  throw new CliError(
    "set BULWARK_CA_FILE to the server's root-ca.pem or BULWARK_CA_FINGERPRINT to its SHA-256",
    2,
  );
}

export async function apiClient(env: NodeJS.ProcessEnv): Promise<ApiClient> {
  const base = env.BULWARK_URL ?? "https://127.0.0.1:8443";
  const ca = await trustAnchors(base, env);
  // An operator client certificate (issued by the server's Operator CA) signs in on its own.
  const clientCert = env.BULWARK_CLIENT_CERT ? readFileSync(env.BULWARK_CLIENT_CERT, "utf8") : undefined;
  const clientKey = env.BULWARK_CLIENT_KEY ? readFileSync(env.BULWARK_CLIENT_KEY, "utf8") : undefined;
  const send: ApiClient["send"] = async (method, path, options = {}) => {
    const res = await httpsRequest({
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
    const res = await httpsRequest({
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
    if (res.status >= 400) throw new CliError(problemMessage(res.status, text), 1);
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
      if (res.status >= 400) throw new CliError(problemMessage(res.status, res.text), 1);
      return JSON.parse(res.text) as T;
    },
  };
}
