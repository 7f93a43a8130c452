/**
 * The one declarative permission table (CRA Annex I Part I (2)(d), least privilege). Every HTTP
 * route names exactly one permission, `public`, or `password` (see http/app.ts); a route without
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
  "products:read",
  "products:write",
  "vulnerabilities:read",
  "vulnerabilities:import",
  "findings:read",
  "findings:triage",
  "webhooks:manage",
  "releases:sign",
  "signing-keys:manage",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ["admin", "operator", "release-manager", "security-analyst", "auditor"] as const;
export type Role = (typeof ROLES)[number];

const READ_ONLY: Permission[] = PERMISSIONS.filter((p) => p.endsWith(":read"));

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: [
    "devices:read",
    "devices:write",
    "groups:read",
    "enrolment-tokens:create",
    "api-keys:manage",
    "pki:read",
  ],
  "release-manager": [
    "devices:read",
    "groups:read",
    "api-keys:manage",
    "pki:read",
    "products:read",
    "products:write",
    "vulnerabilities:read",
    "findings:read",
    "releases:sign",
  ],
  "security-analyst": [
    "devices:read",
    "groups:read",
    "api-keys:manage",
    "pki:read",
    "products:read",
    "vulnerabilities:read",
    "vulnerabilities:import",
    "findings:read",
    "findings:triage",
  ],
  auditor: [...READ_ONLY, "api-keys:manage"],
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export const isRole = (value: unknown): value is Role =>
  typeof value === "string" && (ROLES as readonly string[]).includes(value);
