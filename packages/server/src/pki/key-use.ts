import { appendAudit } from "../audit/audit-log.ts";
import type { Queryable } from "../store/store.ts";

/** What a CA key signed. */
export type KeyUsePurpose = "certificate" | "ca-certificate" | "crl" | "ca-request";

/**
 * Records one use of a custody-held CA key in the audit log, inside the transaction of the action
 * that used it (CRA Annex I Part I (2)(l); issue #4: CA key use is audit-logged).
 */
export async function recordKeyUse(
  tx: Queryable,
  use: { keyId: string; caName: string; purpose: KeyUsePurpose; subject: string; serials?: string[] },
): Promise<void> {
  await appendAudit(tx, {
    actor: { type: "system" },
    action: "key.use",
    target: { type: "custody-key", id: use.keyId },
    outcome: "success",
    details: {
      operation: "sign",
      ca: use.caName,
      purpose: use.purpose,
      subject: use.subject,
      ...(use.serials ? { serials: use.serials } : {}),
    },
  });
}
