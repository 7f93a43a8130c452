import type { Server } from "node:https";
import type { TLSSocket } from "node:tls";

/**
 * Closes an HTTPS connection that completes its TLS handshake but sends no request within `ms`.
 * Node's `headersTimeout` starts only with a request's first byte, so such a connection would
 * otherwise stay open until the peer leaves (issue #13). Later requests on a kept-alive connection
 * are left to Node's `keepAliveTimeout` and `headersTimeout`.
 */
export function firstRequestDeadline(server: Server, ms: number): void {
  const waiting = new WeakMap<TLSSocket, NodeJS.Timeout>();
  server.prependListener("secureConnection", (socket: TLSSocket) => {
    const timer = setTimeout(() => socket.destroy(), ms);
    waiting.set(socket, timer);
    socket.once("close", () => clearTimeout(timer));
  });
  server.prependListener("request", (request) => {
    const socket = request.socket as TLSSocket;
    clearTimeout(waiting.get(socket));
    waiting.delete(socket);
  });
}
