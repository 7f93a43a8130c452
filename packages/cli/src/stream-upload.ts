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

/** How long to wait for 100 (Continue) before sending anyway (RFC 9110 §10.1.1; curl waits 1 s). */
const CONTINUE_WAIT_MS = 1000;

/**
 * POSTs a file without holding it in memory (node:https, TLS 1.3 only, explicit trust anchors),
 * with its Content-Length and `Expect: 100-continue` (RFC 9110 §10.1.1): the body goes only once
 * the server asked for it, so a refusal (authentication, a bad name, 413) arrives before any byte
 * of the file and is never lost to a connection reset mid-upload.
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
      expect: "100-continue",
      ...(tls.authorization ? { authorization: tls.authorization } : {}),
    },
  });
  let answered = false;
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  // The body goes on 100 (Continue), or after the wait for a server that never sends one; a final
  // answer first (a refusal) means it never goes.
  const go = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(!answered), CONTINUE_WAIT_MS);
    req.once("continue", () => {
      clearTimeout(timer);
      resolve(!answered);
    });
    req.once("response", () => {
      clearTimeout(timer);
      resolve(false);
    });
    req.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  req.flushHeaders();
  const sending = go.then((send) =>
    send
      ? // The server may still answer (e.g. 413 on the stored size) and close before the body is
        // all sent: its answer wins.
        pipeline(createReadStream(upload.file), counter, req).catch(() => undefined)
      : undefined,
  );
  const result = await response;
  await sending;
  req.destroy();
  return result;
}
