import type { Queryable, Store } from "../store/store.ts";
import { type Acting, actorOf } from "./actor.ts";
import { type AuditEntry, appendAudit } from "./audit-log.ts";

/** What a change records: the action and what it acted on (actor and outcome are the helper's). */
export type ChangeRecord = Omit<AuditEntry, "actor" | "outcome">;

/**
 * Runs an operator's change and appends its audit entry in one transaction (CRA Annex I Part I
 * (2)(l)): both commit, or neither does. The actor is the request's principal; `record` is the
 * entry, or builds it from the change's result. Returns the change's result.
 */
export async function auditedChange<T>(
  store: Store,
  request: { principal: Acting | null },
  change: (tx: Queryable, actor: AuditEntry["actor"]) => Promise<T>,
  record: ChangeRecord | ((result: T) => ChangeRecord),
): Promise<T> {
  const actor = actorOf(request.principal);
  return store.transaction(async (tx) => {
    const result = await change(tx, actor);
    const entry = typeof record === "function" ? record(result) : record;
    await appendAudit(tx, { actor, outcome: "success", ...entry });
    return result;
  });
}

/** Records an action that changes nothing stored (an export, a request passed on to devices). */
export const auditedAction = (
  store: Store,
  request: { principal: Acting | null },
  record: ChangeRecord,
): Promise<void> => auditedChange(store, request, async () => {}, record);
