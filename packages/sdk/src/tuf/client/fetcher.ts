import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { TufError } from "../errors.ts";

/**
 * Where the client gets metadata and targets from: an abstract port, so the agent can fetch over
 * HTTPS with its client certificate (mutual TLS), and tests over loopback HTTP.
 * Both methods return `undefined` when the file does not exist (HTTP 404), and must never return
 * more than `maxLength` bytes (TUF spec §5.3.3, §5.4.1, §5.5.1, §5.6.1: download "up to" a limit).
 */
export interface TufFetcher {
  /** A metadata file by its name under the metadata base URL ("4.root.json", "timestamp.json"). */
  fetchMetadata(name: string, maxLength: number): Promise<Uint8Array | undefined>;
  /** A target file by its name under the targets base URL ("firmware/HASH.fw.bin"). */
  fetchTarget(name: string, maxLength: number): Promise<Uint8Array | undefined>;
}

export interface HttpFetcherOptions {
  /** e.g. "https://bulwark.example/tuf/{productId}/" */
  metadataBaseUrl: string;
  /** e.g. "https://bulwark.example/tuf/{productId}/targets/" */
  targetBaseUrl: string;
  /** TLS trust anchors and client certificate (PEM) for mutual TLS. */
  ca?: string;
  cert?: string;
  key?: string;
  timeoutMs?: number;
}

/** A `TufFetcher` over node:http / node:https (TLS 1.3 only), enforcing the length limit while reading. */
export function httpFetcher(options: HttpFetcherOptions): TufFetcher {
  const get = (base: string, name: string, maxLength: number) =>
    download(
      new URL(name.split("/").map(encodeURIComponent).join("/"), ensureSlash(base)),
      maxLength,
      options,
    );
  return {
    fetchMetadata: (name, maxLength) => get(options.metadataBaseUrl, name, maxLength),
    fetchTarget: (name, maxLength) => get(options.targetBaseUrl, name, maxLength),
  };
}

function ensureSlash(base: string): string {
  return base.endsWith("/") ? base : `${base}/`;
}

function download(url: URL, maxLength: number, options: HttpFetcherOptions): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      if (response.statusCode === 404) {
        response.resume();
        resolve(undefined);
        return;
      }
      if (response.statusCode !== 200) {
        response.resume();
        reject(new TufError("TUF_FETCH_FAILED", `GET ${url.pathname}: HTTP ${response.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxLength) {
          response.destroy();
          reject(new TufError("TUF_TOO_LARGE", `GET ${url.pathname}: more than ${maxLength} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on("end", () => resolve(Buffer.concat(chunks)));
      response.on("error", (cause) =>
        reject(new TufError("TUF_FETCH_FAILED", `GET ${url.pathname}`, { cause })),
      );
    };
    const tls = { ca: options.ca, cert: options.cert, key: options.key, minVersion: "TLSv1.3" as const };
    const req =
      url.protocol === "https:" ? httpsRequest(url, { ...tls }, onResponse) : httpRequest(url, onResponse);
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error("timed out")));
    req.on("error", (cause) => reject(new TufError("TUF_FETCH_FAILED", `GET ${url.pathname}`, { cause })));
    req.end();
  });
}
