import type { AuditEntry } from "./audit-log.ts";

/** What the audit log records of whoever acted (access's `Principal` is one). */
export interface Acting {
  kind: string;
  user: { id: string };
  apiKeyId?: string;
}

/** The audit actor for a principal. */
export function actorOf(principal: Acting | null): AuditEntry["actor"] {
  if (!principal) return { type: "anonymous" };
  return principal.kind === "api-key"
    ? { type: "api-key", id: principal.apiKeyId }
    : { type: "user", id: principal.user.id };
}
