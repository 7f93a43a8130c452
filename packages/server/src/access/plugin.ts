import type { FastifyInstance } from "fastify";
import type { Store } from "../store/store.ts";
import { mfaRoutes } from "./mfa-routes.ts";
import { oidcRoutes } from "./oidc-routes.ts";
import { accessRoutes } from "./routes.ts";
import type { SecretBox } from "./secret-box.ts";
import { sessionRoutes } from "./session-routes.ts";
import { userRoutes } from "./user-routes.ts";

/**
 * The access domain's HTTP API: own password and API keys, sessions, second factor, users and
 * roles, OpenID Connect sign-in. Encapsulated: it only adds routes (the access hook is the root's).
 * Operator certificates are the Operator CA's (PKI) and registered with it.
 */
export function accessPlugin(deps: { store: Store; box: SecretBox }) {
  const { store, box } = deps;
  return async function access(app: FastifyInstance): Promise<void> {
    await app.register(accessRoutes(store));
    await app.register(sessionRoutes(store, box));
    await app.register(mfaRoutes(store, box));
    await app.register(userRoutes(store));
    await app.register(oidcRoutes(store, box));
  };
}
