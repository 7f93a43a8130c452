/**
 * The download peer of the rollout benchmark, run as its own process: a bare `node:https` server
 * with the update server's TLS settings (TLS 1.3 only, the server's own certificate and key, a
 * client certificate required and verified against the same root CA) that answers every GET with
 * one file streamed from disk. No routing, no authorisation, no database: what serving the same
 * artifact to the same mutual-TLS clients costs Node.js before any update server's own work.
 * Reads { port, caPem, keyPem, certChainPem, file } as JSON on argv[2]; prints "ready" when listening.
 */
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:https";

const options = JSON.parse(process.argv[2]!) as {
  port: number;
  caPem: string;
  keyPem: string;
  certChainPem: string;
  file: string;
};
const length = statSync(options.file).size;

const server = createServer(
  {
    key: options.keyPem,
    cert: options.certChainPem,
    ca: options.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  },
  (request, response) => {
    if (request.method !== "GET") {
      response.writeHead(405).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": length });
    createReadStream(options.file).pipe(response);
  },
);
server.on("tlsClientError", () => {});
server.listen(options.port, "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => process.exit(0));
