import { createReadStream, statSync } from "node:fs";
import { request } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A file to stream as a request body, with a progress callback (bytes sent, total). */
export interface StreamUpload {
  file: string;
  contentType: string;
  onProgress?: (sent: number, total: number) => void;
}

export interface StreamTls {
  ca: string;
  cert?: string;
  key?: string;
  authorization?: string;
}

/**
 * POSTs a file without holding it in memory (node:https, TLS 1.3 only, explicit trust anchors),
 * with its Content-Length so the server can refuse an oversized file before it is sent.
 */
export async function streamUpload(
  url: string,
  tls: StreamTls,
  upload: StreamUpload,
): Promise<{ status: number; text: string }> {
  const total = statSync(upload.file).size;
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      upload.onProgress?.(sent, total);
      done(null, chunk);
    },
  });
  const req = request(url, {
    method: "POST",
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: "TLSv1.3",
    agent: false,
    headers: {
      accept: "application/json",
      "content-type": upload.contentType,
      "content-length": String(total),
      ...(tls.authorization ? { authorization: tls.authorization } : {}),
    },
  });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  // The server may answer (e.g. 413) and close before the body is sent: its answer wins.
  const sending = pipeline(createReadStream(upload.file), counter, req).catch(() => undefined);
  const result = await response;
  await sending;
  return result;
}
