import { BulwarkError } from "@bulwark/sdk/errors";
import {
  buildRoot,
  DEFAULT_EXPIRY,
  expiresFor,
  isTufError,
  type RoleSigners,
  signMetadata,
  TufRepository,
} from "@bulwark/sdk/tuf";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Queryable, Store } from "../store/store.ts";
import { generateSignerPair, roleSigners, tufKeysOf } from "./tuf-keys.ts";
import {
  insertTufRepository,
  type RoleKeyIds,
  saveTufFiles,
  type TufRepositoryRow,
  tufFiles,
  tufRepositoryRow,
  updateTufRepository,
} from "./tuf-store.ts";

export interface TufDeps {
  store: Store;
  custody: KeyCustody;
  /** The clock the writer signs expiries with (tests move it). */
  now?: () => Date;
}

/** What an operation on a product's repository sees: the writer, its keys, signers for them. */
export interface RepositoryContext {
  repo: TufRepository;
  row: TufRepositoryRow;
  signers: RoleSigners;
  deps: TufDeps;
}

/** What the operation changed, saved with the metadata it published in one transaction. */
export interface RepositoryChange {
  roleKeys?: RoleKeyIds;
  audit?: AuditEntry;
  also?: (tx: Queryable) => Promise<void>;
  /** Runs once the transaction committed (e.g. destroying retired custody keys). */
  afterCommit?: () => Promise<void>;
}

/** SDK TUF refusals (threshold not met, bad signature, malformed metadata) as a 409 with the reason. */
export async function tufStep<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isTufError(error)) throw new BulwarkError("BW_ERR_TUF_SIGNING", error.message, { cause: error });
    throw error;
  }
}

/**
 * Runs `fn` on the product's TUF repository (created on first use) while holding the product's
 * lock across processes, then stores the files it published and its change in one transaction:
 * two publishes never interleave, and a crash before the commit leaves the previous state whole.
 */
export async function withRepository<T>(
  deps: TufDeps,
  productId: string,
  fn: (ctx: RepositoryContext) => Promise<{ result: T; change?: RepositoryChange }>,
): Promise<T> {
  return deps.store.exclusive(`bulwark:tuf:${productId}`, async () => {
    const row = (await tufRepositoryRow(deps.store, productId)) ?? (await createRepository(deps, productId));
    const before = await tufFiles(deps.store, productId);
    const repo = TufRepository.load(before, { now: deps.now });
    const ctx = { repo, row, signers: await roleSigners(deps.custody, row.roleKeys), deps };
    const { result, change } = await tufStep(() => fn(ctx));
    await deps.store.transaction(async (tx) => {
      await saveTufFiles(tx, productId, repo.files(), before);
      if (change?.roleKeys) await updateTufRepository(tx, productId, { roleKeys: change.roleKeys });
      await change?.also?.(tx);
      if (change?.audit) await appendAudit(tx, change.audit);
    });
    await change?.afterCommit?.();
    return result;
  });
}

/**
 * A new repository (TUF spec §6.1): one hybrid signer pair in custody for each top-level role,
 * root v1 signed by its own keys (1-of-1 pair; raise the threshold and move root keys offline
 * through `bulwark tuf root sign-request`), then empty targets, snapshot and timestamp.
 */
async function createRepository(deps: TufDeps, productId: string): Promise<TufRepositoryRow> {
  const label = (role: string) => `tuf:${productId}:${role}`;
  const roleKeys: RoleKeyIds = {
    root: await generateSignerPair(deps.custody, label("root")),
    targets: await generateSignerPair(deps.custody, label("targets")),
    snapshot: await generateSignerPair(deps.custody, label("snapshot")),
    timestamp: await generateSignerPair(deps.custody, label("timestamp")),
    components: {},
  };
  const now = deps.now?.() ?? new Date();
  const spec = async (ids: string[]) => ({ keys: await tufKeysOf(deps.custody, ids), threshold: 1 });
  const root = buildRoot({
    version: 1,
    expires: expiresFor("root", now, DEFAULT_EXPIRY),
    roles: {
      root: await spec(roleKeys.root),
      targets: await spec(roleKeys.targets),
      snapshot: await spec(roleKeys.snapshot),
      timestamp: await spec(roleKeys.timestamp),
    },
  });
  const signers = await roleSigners(deps.custody, roleKeys);
  const repo = await tufStep(async () => {
    const created = TufRepository.create(await signMetadata(root, signers.root ?? []), { now: deps.now });
    await created.publish(signers);
    return created;
  });
  await deps.store.transaction(async (tx) => {
    await insertTufRepository(tx, productId, roleKeys);
    await saveTufFiles(tx, productId, repo.files(), new Map());
    await appendAudit(tx, {
      actor: { type: "system" },
      action: "tuf.repository.create",
      target: { type: "product", id: productId },
      outcome: "success",
      details: { rootVersion: 1 },
    });
  });
  return { productId, roleKeys, pendingRoot: null, pendingRotation: null };
}
