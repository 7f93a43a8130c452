import { request } from "node:https";

export interface HttpsRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Trust anchors (PEM). Without them the request fails unless `insecureBootstrap` is set. */
  ca?: string;
  cert?: string;
  key?: string;
  /**
   * RFC 7030 §4.1.1 bootstrap: complete the handshake without verifying the server, for the one
   * request whose answer the caller verifies out of band (a pinned root fingerprint).
   */
  insecureBootstrap?: boolean;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A small HTTPS client over node:https with TLS 1.3 only and explicit trust anchors. */
export function httpsRequest(options: HttpsRequest): Promise<HttpsResponse> {
  const limit = options.maxResponseBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = request(
      options.url,
      {
        method: options.method ?? "GET",
        headers: options.headers,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        minVersion: "TLSv1.3",
        rejectUnauthorized: options.insecureBootstrap !== true,
        timeout: options.timeoutMs ?? 30_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            req.destroy(new Error(`response larger than ${limit} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}
