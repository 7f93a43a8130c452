import { chmodSync, writeFileSync } from "node:fs";
import { createApiKey } from "./access/api-keys.ts";
import { createFirstAdmin } from "./access/users.ts";
import { appendAudit } from "./audit/audit-log.ts";
import type { KeyCustody } from "./custody/key-custody.ts";
import { createGroup } from "./fleet/groups.ts";
import { bootstrapHierarchy } from "./pki/ca.ts";
import type { Store } from "./store/store.ts";

export interface FirstRun {
  adminUsername: string;
  adminPassword: string;
  adminKeyFile?: string;
}

/**
 * First start, in one transaction: the CA hierarchy, the `default` device group and the admin
 * account with a one-time password (and, for automation, an admin API key written 0600).
 */
export async function bootstrapIfEmpty(
  store: Store,
  custody: KeyCustody,
  options: { adminKeyFile?: string },
): Promise<FirstRun | undefined> {
  const existing = await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM cas`);
  if (Number(existing?.n ?? 0) > 0) return undefined;
  return store.transaction(async (tx) => {
    await bootstrapHierarchy(tx, custody);
    await createGroup(tx, "default");
    const admin = await createFirstAdmin(tx);
    const result: FirstRun = { adminUsername: admin.user.username, adminPassword: admin.password };
    await appendAudit(tx, {
      actor: { type: "system" },
      action: "system.bootstrap",
      outcome: "success",
      details: {
        cas: ["root", "device", "service"],
        adminUser: admin.user.id,
        bootstrapApiKey: Boolean(options.adminKeyFile),
      },
    });
    if (options.adminKeyFile) {
      const { key } = await createApiKey(tx, {
        ownerId: admin.user.id,
        name: "bootstrap",
        role: "admin",
        expiresAt: null,
      });
      writeFileSync(options.adminKeyFile, `${key}\n`, { mode: 0o600, flag: "wx" });
      chmodSync(options.adminKeyFile, 0o600);
      result.adminKeyFile = options.adminKeyFile;
    }
    return result;
  });
}
