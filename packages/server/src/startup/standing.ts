import { join } from "node:path";
import type { Logger } from "pino";
import { ensureOperatorCa } from "../access/operator-certificates.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { ensureCheckpointKey } from "../audit/checkpoints.ts";
import { bootstrapIfEmpty } from "../bootstrap.ts";
import type { Config } from "../config.ts";
import { configSigner } from "../fleet/config-signer.ts";
import { byRole, ensurePostQuantumHierarchy, listCas } from "../pki/ca.ts";
import { FileKeyCustody } from "../pki/file-key-custody.ts";
import { loadMasterKey } from "../pki/master-key.ts";
import { ensureServerIdentity } from "../pki/server-certificate.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import type { Store } from "../store/store.ts";

/** What every later start-up step builds on: the keys in custody and the standing CAs and identities. */
export type Standing = Awaited<ReturnType<typeof prepareUnderLock>>;

/**
 * Migrates the store, opens key custody, bootstraps a first run and ensures the standing keys.
 * Several processes may start at once over one PostgreSQL and one shared data dir: exactly one
 * does this; the others wait for it and then find everything done.
 */
export const prepareStanding = (store: Store, config: Config, log: Logger): Promise<Standing> =>
  store.exclusive("bulwark:startup", () => prepareUnderLock(store, config, log));

async function prepareUnderLock(store: Store, config: Config, log: Logger) {
  const masterKey = loadMasterKey(config.dataDir, config.masterKey);
  await migrate(store, migrations);
  const custody = new FileKeyCustody({
    dir: join(config.dataDir, "keys"),
    masterKey: masterKey.key,
    onUse: (use) =>
      log.debug({ keyId: use.keyId, label: use.label, operation: use.operation }, "custody key used"),
  });
  const firstRun = await bootstrapIfEmpty(store, custody, { adminKeyFile: config.bootstrapAdminKeyFile });
  await store.transaction(async (tx) => {
    if (await ensurePostQuantumHierarchy(tx, custody))
      await appendAudit(tx, {
        actor: { type: "system" },
        action: "ca.create",
        outcome: "success",
        details: { cas: ["ml-dsa-65 root", "ml-dsa-65 device issuing"] },
      });
  });
  const cas = await listCas(store);
  const identity = await ensureServerIdentity(store, custody, byRole(cas, "service"), config.publicNames);
  const operatorCa = await ensureOperatorCa(store, custody);
  const checkpointSigner = await ensureCheckpointKey(store, custody);
  const signer = await configSigner(store, custody, byRole(cas, "service"));
  return { masterKey, custody, firstRun, cas, identity, operatorCa, checkpointSigner, signer };
}
