/**
 * RFC 9110 §10.1.1 (Expect: 100-continue). A client sending a large body may wait for the
 * server's interim 100 (Continue) before it sends the body, so a request refused on its headers
 * alone (authentication, a malformed query, a declared length over the limit) is answered before
 * any of the body crosses the wire. Without it the server answers and closes while body bytes
 * still arrive; the client's next write fails (EPIPE, ECONNRESET) and the TCP reset can discard
 * the refusal the client had not read yet, so the user sees "write EPIPE" instead of the reason.
 *
 * Node answers 100 at once unless the server listens for `checkContinue`. Here the 100 is held
 * back: a route whose config says `deferContinue: true` sends it from its handler once every check
 * has passed (`continueBody`); every other route sends it as its body parsing starts.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route sends 100 (Continue) itself, once its checks passed (`continueBody`). */
    deferContinue?: boolean;
  }
}

const held = new WeakMap<IncomingMessage, ServerResponse>();

/** Holds back 100 (Continue) on `server`, and sends it as body parsing starts for every route but the deferring ones. */
export function holdContinue(app: FastifyInstance): void {
  const server = app.server as unknown as Server;
  server.on("checkContinue", (request, response) => {
    held.set(request, response);
    server.emit("request", request, response);
  });
  app.addHook("preParsing", async (request, _reply, payload) => {
    if (!request.routeOptions.config.deferContinue) continueBody(request.raw);
    return payload;
  });
}

/** Sends the held 100 (Continue), once; a request that did not ask for it is left alone. */
export function continueBody(request: IncomingMessage): void {
  const response = held.get(request);
  if (!response) return;
  held.delete(request);
  if (!response.headersSent) response.writeContinue();
}
