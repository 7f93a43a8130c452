/**
 * The one declarative permission table (CRA Annex I Part I (2)(d), least privilege). Every HTTP
 * route names exactly one permission, `public`, or `signedIn` (see http/auth.ts); a route without
 * a rule fails at start-up.
 */
export const PERMISSIONS = [
  "devices:read",
  "devices:write",
  "groups:read",
  "groups:write",
  "enrolment-tokens:create",
  "api-keys:manage",
  "pki:read",
  // Issue #3: access control and audit.
  "users:read",
  "users:manage",
  "roles:manage",
  "sessions:manage",
  "products:read",
  "products:write",
  "audit:read",
  "audit:manage",
  "notifications:read",
  "operator-certificates:issue",
  // Issue #5: fleet.
  "devices:incident",
  "devices:decommission",
  "policies:read",
  "policies:write",
  "security-events:read",
  // Issue #4: PKI.
  "certificates:read",
  "certificates:revoke",
  "cas:manage",
  "provisioning:manage",
  // Issue #6: software trust.
  "vulnerabilities:read",
  "vulnerabilities:import",
  "findings:read",
  "findings:triage",
  "webhooks:manage",
  "releases:sign",
  "signing-keys:manage",
  // Issue #13: settings that govern authentication (OIDC, the second-factor policy, rate limits).
  "auth-settings:manage",
  // Issue #15: secure updates.
  "artifacts:write",
  "releases:publish",
  "tuf:manage",
  "deployments:read",
  "deployments:write",
  // Issue #16: CRA compliance (product CRA data, risk assessment, evidence; Art. 14 reports).
  "cra:read",
  "cra:write",
  "cra:report",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ["admin", "operator", "release-manager", "security-analyst", "auditor"] as const;
export type Role = (typeof ROLES)[number];

const READ_ONLY: Permission[] = PERMISSIONS.filter((p) => p.endsWith(":read"));

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  // Runs the fleet: devices, enrolment, incidents, certificates.
  operator: [
    "devices:read",
    "devices:write",
    "groups:read",
    "enrolment-tokens:create",
    "api-keys:manage",
    "pki:read",
    "products:read",
    "notifications:read",
    "operator-certificates:issue",
    "devices:incident",
    "devices:decommission",
    "policies:read",
    "policies:write",
    "security-events:read",
    "certificates:read",
    "certificates:revoke",
    "provisioning:manage",
    "deployments:read",
  ],
  // Ships releases: products, SBOMs, signing.
  "release-manager": [
    "devices:read",
    "groups:read",
    "api-keys:manage",
    "pki:read",
    "products:read",
    "products:write",
    "policies:read",
    "vulnerabilities:read",
    "findings:read",
    "releases:sign",
    "artifacts:write",
    "releases:publish",
    "tuf:manage",
    "deployments:read",
    "deployments:write",
    "cra:read",
    "cra:write",
  ],
  // Handles vulnerabilities and incidents: findings, triage, audit, security events.
  "security-analyst": [
    "devices:read",
    "groups:read",
    "api-keys:manage",
    "pki:read",
    "products:read",
    "audit:read",
    "notifications:read",
    "devices:incident",
    "policies:read",
    "security-events:read",
    "certificates:read",
    "certificates:revoke",
    "vulnerabilities:read",
    "vulnerabilities:import",
    "findings:read",
    "findings:triage",
    "cra:read",
    "cra:write",
    "cra:report",
  ],
  // Read-only everywhere (plus its own API keys).
  auditor: [...READ_ONLY, "api-keys:manage"],
};

/**
 * Permissions that decide who may sign in or act, and what is recorded of it: who has which role,
 * accounts and their sessions, how sign-in works (OIDC and its group mapping, the second-factor
 * policy, rate limits), how devices authenticate (the CAs trusted for enrolment and each group's
 * provisioning policy) and the audit log's retention. Only `admin` holds them (a test keeps it so):
 * a role holding one could raise itself, or hide what it did (CRA Annex I Part I (2)(d), (l)).
 */
export const ADMIN_ONLY: readonly Permission[] = [
  "users:manage",
  "roles:manage",
  "sessions:manage",
  "audit:manage",
  "auth-settings:manage",
  "cas:manage",
  "groups:write",
];

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export const isRole = (value: unknown): value is Role =>
  typeof value === "string" && (ROLES as readonly string[]).includes(value);

export const isPermission = (value: unknown): value is Permission =>
  typeof value === "string" && (PERMISSIONS as readonly string[]).includes(value);
