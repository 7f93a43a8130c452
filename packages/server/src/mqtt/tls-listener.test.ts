import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { pino } from "pino";
import { ConnectionBudget } from "../net/connection-guard.ts";
import { listenTls, type TlsListener } from "./tls-listener.ts";

/** A CA, a server and a client certificate made by the openssl CLI (P-256, one day). */
function certificates(): Record<"ca" | "serverKey" | "server" | "clientKey" | "client", string> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-tls-listener-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=test CA", "-days", "1");
  for (const name of ["server", "client"]) {
    openssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    const ca = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"];
    openssl("x509", "-req", "-in", `${name}.csr`, ...ca, "-out", `${name}.pem`, "-days", "1");
  }
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return {
    ca: read("ca.pem"),
    serverKey: read("server.key"),
    server: read("server.pem"),
    clientKey: read("client.key"),
    client: read("client.pem"),
  };
}

describe("MQTT TLS listener: TLS 1.3 only, a client certificate required", () => {
  const pems = certificates();
  const served: TLSSocket[] = [];
  let listener: TlsListener;
  before(async () => {
    listener = await listenTls(
      {
        host: "127.0.0.1",
        port: 0,
        tls: { keyPem: pems.serverKey, certChainPem: pems.server, trustedCaPems: [pems.ca] },
        admission: { budget: new ConnectionBudget(100), maxPerAddress: 100, handshakeTimeoutMs: 5_000 },
        admit: () => true,
        log: pino({ level: "silent" }),
      },
      (socket) => {
        served.push(socket);
        socket.end();
      },
    );
  });
  after(() => listener.close());

  /** Resolves with the handshake's outcome: "secure" or the client's error. */
  const handshake = (options: { cert?: boolean; maxVersion?: "TLSv1.2" | "TLSv1.3" }) =>
    new Promise<string>((resolve) => {
      const servedBefore = served.length;
      const socket = connect({
        host: "127.0.0.1",
        port: listener.port,
        ca: pems.ca,
        servername: "server",
        checkServerIdentity: () => undefined,
        maxVersion: options.maxVersion ?? "TLSv1.3",
        ...(options.cert ? { key: pems.clientKey, cert: pems.client } : {}),
      });
      // TLS 1.3: a refused client certificate is reported after the client's own handshake ends.
      socket.on("data", () => {});
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.once("end", () => resolve(served.length > servedBefore ? "served" : "ended"));
    });

  it("serves a client with a certificate of a trusted CA over TLS 1.3", async () => {
    assert.equal(await handshake({ cert: true }), "served");
    assert.equal(served.length, 1);
    assert.equal(served[0]!.authorized, true);
    assert.equal(served[0]!.getProtocol(), "TLSv1.3");
  });

  it("refuses a client without a certificate (alert 116) and one limited to TLS 1.2; neither is served", async () => {
    const before = served.length;
    assert.match(await handshake({}), /CERTIFICATE_REQUIRED|ECONNRESET/);
    assert.match(await handshake({ cert: true, maxVersion: "TLSv1.2" }), /PROTOCOL_VERSION|UNSUPPORTED/);
    assert.equal(served.length, before);
    // Positive control: a valid client after them is served.
    assert.equal(await handshake({ cert: true }), "served");
    assert.equal(served.length, before + 1);
  });
});
