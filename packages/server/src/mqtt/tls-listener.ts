import { constants } from "node:crypto";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { logListenerErrors } from "../http/listener-errors.ts";
import type { Admission } from "../net/admission.ts";
import { type GuardedListener, guardListener } from "../net/connection-guard.ts";

export interface TlsListenerOptions {
  host: string;
  port: number;
  tls: { keyPem: string; certChainPem: string; trustedCaPems: string[] };
  /** Caps, handshake deadline and PROXY protocol (`net/connection-guard.ts`). */
  admission: Admission;
  /** Whether a new connection from this client address is within its rate. */
  admit: (key: string) => boolean;
  log: Logger;
}

export interface TlsListener {
  server: Server;
  port: number;
  admission: GuardedListener;
  close(): Promise<void>;
}

/**
 * The MQTT port: TLS 1.3 only, client certificate required (alert 116 certificate_required without
 * one); each verified socket goes to `serve`. Resolves once listening.
 */
export async function listenTls(
  options: TlsListenerOptions,
  serve: (socket: TLSSocket) => void,
): Promise<TlsListener> {
  const { log } = options;
  const server: Server = createServer(
    {
      key: options.tls.keyPem,
      cert: options.tls.certChainPem,
      ca: options.tls.trustedCaPems,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      // No stateless session tickets (RFC 8446 §4.6.1): sealing two per handshake cost CPU and
      // ~12 KiB of resident memory per held connection (measured); devices do full handshakes.
      secureOptions: constants.SSL_OP_NO_TICKET,
    },
    serve,
  );
  // Before any TLS work: the caps, the handshake deadline, the PROXY header from a balancer, and
  // the connection rate per client address (the device's own, also behind a balancer).
  const admission = guardListener(server, { ...options.admission, name: "mqtt", log, admit: options.admit });
  server.on("tlsClientError", (error) => log.debug({ reason: error.message }, "mqtt tls handshake failed"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  logListenerErrors(server, log, "mqtt");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    server,
    port,
    admission,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
