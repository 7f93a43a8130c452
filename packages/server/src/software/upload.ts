import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { authenticateApiKey } from "../access/api-keys.ts";
import type { Store } from "../store/store.ts";

/**
 * Uploaded data files (OSV bundles, the KEV catalogue) are streamed to a private file in the spool
 * folder under the data directory (see spool.ts),
 * counted as they arrive and refused with 413 past the limit, so memory stays bounded whatever the
 * body size; the engine then reads the file with its own per-record bounds.
 */
export interface UploadedFile {
  dir: string;
  /** The file (or, for a single OSV record, the directory holding it) the engine should read. */
  path: string;
}

/** Content type → the name the engine recognises the bundle kind by. */
const FILE_NAMES: Record<string, string> = {
  "application/gzip": "upload.tar.gz",
  "application/x-gzip": "upload.tar.gz",
  "application/zip": "upload.zip",
  "application/x-tar": "upload.tar",
  "application/json": "record.json",
  "application/yaml": "record.yaml",
  "application/x-yaml": "record.yaml",
};

export const UPLOAD_TYPES = Object.keys(FILE_NAMES);

declare module "fastify" {
  interface FastifyRequest {
    upload?: UploadedFile;
  }
}

async function spool(
  payload: Readable,
  name: string,
  maxBytes: number,
  spoolDir: string,
): Promise<UploadedFile> {
  // mkdtemp creates the folder 0700; the spool folder itself is under the (0700) data directory.
  const dir = await mkdtemp(join(spoolDir, "bulwark-upload-"));
  const file = join(dir, name);
  let bytes = 0;
  try {
    await pipeline(
      payload,
      async function* limit(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes)
            throw new BulwarkError("BW_ERR_PAYLOAD_TOO_LARGE", `the upload is larger than ${maxBytes} bytes`);
          yield chunk;
        }
      },
      createWriteStream(file, { mode: 0o600 }),
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // A single record is read as a one-file directory; bundles and the KEV file are read directly.
  return { dir, path: name.startsWith("record.") ? dir : file };
}

/** Registers, in the calling (encapsulated) plugin, a streaming parser for upload content types. */
export function acceptUploads(app: FastifyInstance, maxBytes: number, spoolDir: string): void {
  app.removeContentTypeParser(["application/json"]);
  app.addContentTypeParser(UPLOAD_TYPES, (request: FastifyRequest, payload, done) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > maxBytes) {
      done(
        new BulwarkError("BW_ERR_PAYLOAD_TOO_LARGE", `the upload is larger than ${maxBytes} bytes`),
        undefined,
      );
      return;
    }
    const type = String(request.headers["content-type"] ?? "")
      .split(";")[0]!
      .trim()
      .toLowerCase();
    spool(payload, FILE_NAMES[type]!, maxBytes, spoolDir).then(
      (upload) => {
        request.upload = upload;
        done(null, {});
      },
      (error: Error) => done(error, undefined),
    );
  });
  app.addHook("onResponse", async (request) => {
    if (request.upload) await rm(request.upload.dir, { recursive: true, force: true });
  });
}

/**
 * Bodies are read before the access-control preHandler runs, so upload routes check for a valid API
 * key first (onRequest): an anonymous caller cannot make the server spool or buffer a large body.
 * The full rule (role and permission) is still enforced by the preHandler.
 */
export function requireKeyBeforeBody(app: FastifyInstance, store: Store): void {
  app.addHook("onRequest", async (request) => {
    if (request.method !== "POST") return;
    const header = request.headers.authorization ?? "";
    const key = /^Bearer /i.test(header)
      ? await authenticateApiKey(store, header.slice(7).trim())
      : undefined;
    if (!key) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "uploads need a valid API key");
  });
}
