import type { Logger } from "pino";
import { appendAudit } from "../audit/audit-log.ts";
import type { TufDeps } from "./tuf-repository.ts";
import { type TufRepositoryRow, tufRepositoryRow } from "./tuf-store.ts";

/** A custody key made for a product's TUF repository (`tuf:{productId}:{role}…`, tuf-keys.ts). */
const TUF_LABEL = /^tuf:([^:]+):/;

export interface SweptKey {
  productId: string;
  id: string;
  label: string;
}

/** Every custody key id a repository row names: its roles' keys and a rotation's waiting keys. */
function referenced(row: TufRepositoryRow | undefined): Set<string> {
  if (!row) return new Set();
  const { root, targets, snapshot, timestamp, components } = row.roleKeys;
  return new Set([
    ...root,
    ...targets,
    ...snapshot,
    ...timestamp,
    ...Object.values(components).flat(),
    ...Object.values(row.pendingRotation?.roleKeys ?? {}).flat(),
  ]);
}

/**
 * Destroys TUF custody keys no repository row names any more: retired keys whose destruction after
 * the commit did not happen (the process died between the commit and the unlink), and keys made for
 * a change that never committed (the process died before). A retired key must never sign again
 * (TUF spec §6.1).
 *
 * Keys are made and their row committed under the product's lock (`withRepository`, across
 * processes); the sweep decides under the same lock. A key a rotation has written but not yet
 * committed is therefore never judged: its rotation ends (committed: named; failed: destroyed by
 * it) before the sweep looks at that product. Non-TUF keys (CA, TLS, signing) are never touched.
 * Each key is destroyed as a retired one is (overwritten, flushed, unlinked); what was removed is
 * audited (`tuf.keys.sweep`: ids and labels, never key material) and logged.
 */
export async function sweepRetiredTufKeys(deps: TufDeps, log: Logger): Promise<SweptKey[]> {
  const byProduct = new Map<string, Array<{ id: string; label: string }>>();
  for (const key of await deps.custody.list()) {
    const productId = TUF_LABEL.exec(key.label)?.[1];
    if (productId !== undefined) byProduct.set(productId, [...(byProduct.get(productId) ?? []), key]);
  }
  const swept: SweptKey[] = [];
  for (const [productId, keys] of byProduct) {
    const removed = await deps.store.exclusive(`bulwark:tuf:${productId}`, async () => {
      const named = referenced(await tufRepositoryRow(deps.store, productId));
      const unnamed = keys.filter((k) => !named.has(k.id));
      for (const key of unnamed) await deps.custody.destroy(key.id);
      if (unnamed.length > 0)
        await deps.store.transaction((tx) =>
          appendAudit(tx, {
            actor: { type: "system" },
            action: "tuf.keys.sweep",
            target: { type: "product", id: productId },
            outcome: "success",
            details: { keys: unnamed.map((k) => ({ id: k.id, label: k.label })) },
          }),
        );
      return unnamed.map((k) => ({ productId, ...k }));
    });
    swept.push(...removed);
  }
  if (swept.length > 0)
    log.warn(
      { keys: swept.map((k) => ({ productId: k.productId, keyId: k.id, label: k.label })) },
      "destroyed TUF custody keys no repository names (left by a stop between a commit and its key destruction)",
    );
  return swept;
}
