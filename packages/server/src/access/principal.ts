import { BulwarkError } from "@bulwark/sdk/errors";
import type { Grant } from "./grants.ts";
import { grantsAllow, scopeOf } from "./grants.ts";
import type { Permission, Role } from "./permissions.ts";
import type { User } from "./users.ts";

/** Who is calling: set on each request by the access-control hook (`access-control.ts`). */
export interface Principal {
  kind: "api-key" | "session" | "client-cert";
  user: User;
  /** The user's global role, for display; decisions use `grants`. */
  role: Role | null;
  grants: Grant[];
  apiKeyId?: string;
  /**
   * When the API key or client certificate used expires (epoch ms; null: never): a key or
   * certificate it makes may not outlive it.
   */
  credentialExpiresAt?: number | null;
  sessionId?: string;
  certificateSerial?: string;
  /** What a session must do before anything but its own account routes. */
  restriction: "password-change" | "mfa-enrolment" | null;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
    sessionToken: string | null;
  }
}

/** The products a principal reaches with a permission (`all`, or the ids of its scoped grants). */
export const productScope = (principal: Principal | null, permission: Permission): "all" | string[] =>
  principal ? scopeOf(principal.grants, permission) : [];

/**
 * For a route whose product comes from the record it reaches (an Article 14 event, …) rather than
 * a route parameter: the route's rule is `scoped` (some grant holds the permission), and the
 * handler checks the record's product here, once it has read it. Same answer as a `productParam` route.
 */
export function requireProductGrant(
  principal: Principal | null,
  permission: Permission,
  productId: string,
): void {
  if (!principal || !grantsAllow(principal.grants, permission, productId))
    throw new BulwarkError("BW_ERR_FORBIDDEN", `no role of the caller grants ${permission} on this product`);
}
