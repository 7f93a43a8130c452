/**
 * The runtime's floor for the connection benchmark, run as its own process: a bare `node:tls`
 * server with exactly the broker's TLS settings (TLS 1.3 only, client certificate required and
 * verified against the same CA, no session tickets, the server's own certificate) that answers
 * each connection's first bytes with a CONNACK and holds it. No MQTT parsing, no registry, no
 * broker: what any Node.js broker pays per connection before doing anything of its own.
 * Reads { port, caPem, keyPem, certChainPem } as JSON on argv[2]; prints "ready" when listening.
 */
import { constants } from "node:crypto";
import { createServer } from "node:tls";

const options = JSON.parse(process.argv[2]!) as {
  port: number;
  caPem: string;
  keyPem: string;
  certChainPem: string;
};
// MQTT 3.1.1 §3.2: CONNACK, session present 0, return code 0.
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

const server = createServer(
  {
    key: options.keyPem,
    cert: options.certChainPem,
    ca: options.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    secureOptions: constants.SSL_OP_NO_TICKET,
  },
  (socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.write(CONNACK));
    socket.on("data", () => {});
  },
);
server.listen(options.port, "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => process.exit(0));
