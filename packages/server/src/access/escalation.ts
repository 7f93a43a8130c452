import { BulwarkError } from "@bulwark/sdk/errors";
import { type Grant, grantsAllow } from "./grants.ts";
import { type Permission, ROLE_PERMISSIONS, type Role } from "./permissions.ts";

/**
 * No principal grants more than it holds (CRA Annex I Part I (2)(d), least privilege): a role it
 * gives (to a user, a product assignment, an OIDC group mapping, an API key) must be within its
 * own grants, and a credential or account change it makes for another user must not reach that
 * user's greater power. "Holds" is what the request's principal holds: an API key's narrowed
 * grants, not its owner's.
 */

const missingFor = (grants: readonly Grant[], permissions: readonly Permission[], productId?: string) =>
  permissions.filter((p) => !grantsAllow(grants, p, productId));

/** The role's every permission must be held globally, or for `productId` when the role is scoped to it. */
export function assertMayConfer(grants: readonly Grant[], role: Role, productId?: string): void {
  const missing = missingFor(grants, ROLE_PERMISSIONS[role], productId);
  if (missing.length)
    throw new BulwarkError(
      "BW_ERR_FORBIDDEN",
      `the caller cannot grant the role ${role}: it does not hold ${missing.join(", ")}${productId ? " for this product" : ""}`,
    );
}

/** Every grant of the target (global, or per product) must be held by the caller as widely. */
export function assertCovers(grants: readonly Grant[], target: readonly Grant[], what: string): void {
  const missing = new Set(
    target.flatMap((g) => missingFor(grants, [...g.permissions], g.productId ?? undefined)),
  );
  if (missing.size)
    throw new BulwarkError(
      "BW_ERR_FORBIDDEN",
      `${what} needs every permission that user holds; the caller lacks ${[...missing].join(", ")}`,
    );
}

/**
 * A credential made with an API key or a client certificate ends no later than it: a stolen one
 * cannot be turned into a longer-lived one. Sessions are exempt: they follow a fresh sign-in.
 */
export function assertWithinCredential(
  principal: { kind: string; credentialExpiresAt?: number | null },
  expiresAt: number,
  what: string,
): void {
  const limit = principal.kind === "session" ? null : principal.credentialExpiresAt;
  if (limit != null && expiresAt > limit)
    throw new BulwarkError(
      "BW_ERR_FORBIDDEN",
      `${what} made with an API key or certificate must expire no later than it (${new Date(limit).toISOString()})`,
    );
}
