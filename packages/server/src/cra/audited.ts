import type { FastifyRequest } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { actorOf } from "../http/auth.ts";
import type { Queryable, Store } from "../store/store.ts";

/** One transaction: the change, then its audit entry (CRA Annex I Part I (2)(l)); returns the change's result. */
export async function audited<T>(
  store: Store,
  request: FastifyRequest,
  action: string,
  target: { type: string; id: string },
  change: (tx: Queryable) => Promise<T>,
  details: (result: T) => Record<string, unknown> = () => ({}),
): Promise<T> {
  return store.transaction(async (tx) => {
    const result = await change(tx);
    await appendAudit(tx, {
      actor: actorOf(request.principal),
      action,
      target,
      outcome: "success",
      details: details(result),
    });
    return result;
  });
}

/** The acting user's id for `created_by` columns (an API key acts for its owner). */
export const byOf = (request: FastifyRequest): string | null => request.principal?.user.id ?? null;
