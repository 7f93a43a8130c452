import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchPinnedCaCertificates } from "@bulwark/sdk/est/client";
import { httpsRequest } from "@bulwark/sdk/https";

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
  /** Sends a body as is (files: SBOMs, OSV bundles) with its content type. */
  upload<T>(method: string, path: string, body: Buffer, contentType: string): Promise<T>;
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
  const send = async <T>(
    method: string,
    path: string,
    body: string | Buffer | undefined,
    contentType: string | undefined,
    auth?: string,
  ): Promise<T> => {
    const authorization = auth ?? (env.BULWARK_API_KEY ? `Bearer ${env.BULWARK_API_KEY}` : undefined);
    if (!authorization) throw new CliError("set BULWARK_API_KEY (an API key from the server)", 2);
    const res = await httpsRequest({
      url: new URL(path, base).href,
      method,
      ca,
      timeoutMs: 600_000,
      headers: {
        authorization,
        accept: "application/json",
        ...(contentType === undefined ? {} : { "content-type": contentType }),
      },
      body,
    });
    const text = res.body.toString("utf8");
    if (res.status >= 400) {
      let message = `HTTP ${res.status}`;
      try {
        const problem = JSON.parse(text) as { code?: string; detail?: string; title?: string };
        message = `${problem.detail ?? problem.title} (${problem.code})`;
      } catch {}
      throw new CliError(message, 1);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    call: <T>(method: string, path: string, body?: unknown, auth?: string) =>
      send<T>(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        body === undefined ? undefined : "application/json",
        auth,
      ),
    upload: <T>(method: string, path: string, body: Buffer, contentType: string) =>
      send<T>(method, path, body, contentType),
  };
}
