import { request } from "node:https";
import { Readable } from "node:stream";
import { BaseFetcher } from "tuf-js";
import { DownloadHTTPError } from "tuf-js/dist/error.js";
import type { EnrolledDevice } from "./enrol-helpers.ts";

/**
 * tuf-js' own fetcher cannot present a client certificate; this one plugs into stock tuf-js
 * through its `fetcher` option (the documented extension point) and does mutual TLS with the
 * device's certificate. Everything else (every check of the client workflow) is tuf-js' own.
 */
export class MutualTlsFetcher extends BaseFetcher {
  readonly #ca: string;
  readonly #device: EnrolledDevice;

  constructor(ca: string, device: EnrolledDevice) {
    super();
    this.#ca = ca;
    this.#device = device;
  }

  fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          ca: this.#ca,
          cert: this.#device.certChainPem,
          key: this.#device.keyPem,
          minVersion: "TLSv1.3",
          agent: false,
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            // As tuf-js' own fetcher reports it: a 403/404 on N+1.root.json ends root rotation (§5.3.3).
            reject(new DownloadHTTPError(`HTTP ${res.statusCode} for ${url}`, res.statusCode ?? 0));
            return;
          }
          resolve(Readable.toWeb(res) as ReadableStream<Uint8Array<ArrayBuffer>>);
        },
      );
      req.on("error", reject);
      req.end();
    });
  }
}
