import type { Store } from "../store/store.ts";
import { appendAudit } from "./audit-log.ts";
import { notify } from "./notifications.ts";

/**
 * Records a rate-limit breach (CRA Annex I Part I (2)(d): possible unauthorised access) as an
 * audit entry and an operator notification in one transaction; `http/rate-limits.ts` calls it at
 * most once per client and class per window.
 */
export function rateLimitReporter(store: Store) {
  return (details: { class: string; remoteAddress: string; route: string | undefined }): Promise<void> =>
    store.transaction(async (tx) => {
      await appendAudit(tx, {
        actor: { type: "anonymous" },
        action: "auth.rate-limited",
        outcome: "denied",
        details,
      });
      await notify(tx, {
        kind: "rate-limited",
        severity: "warning",
        message: `${details.remoteAddress} exceeded the ${details.class} rate limit`,
        details,
      });
    });
}
