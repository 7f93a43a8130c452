import type { Grant } from "./grants.ts";
import { scopeOf } from "./grants.ts";
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
