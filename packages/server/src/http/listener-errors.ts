import type { Server } from "node:net";
import type { Logger } from "pino";

/**
 * Logs the errors a server emits once it listens, instead of letting them end the process: an
 * accept that fails (ENFILE, ENOBUFS, ENOMEM, or EMFILE beyond libuv's own recovery) is emitted as
 * 'error' on the server, which goes on listening; with no listener it would drop every connection
 * and device of the process (issue #13). Fastify and our MQTT listener only listen for 'error'
 * while starting to listen.
 */
export function logListenerErrors(server: Server, log: Logger, listener: "https" | "mqtt"): void {
  server.on("error", (error) => log.error({ err: error, listener }, "listener error; still listening"));
}
