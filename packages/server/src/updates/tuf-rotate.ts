import { BulwarkError } from "@bulwark/sdk/errors";
import { buildRoot, DEFAULT_EXPIRY, expiresFor, type Root, signMetadata } from "@bulwark/sdk/tuf";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import { custodySigner, generateSignerPair, tufKeysOf } from "./tuf-keys.ts";
import { type RepositoryContext, type TufDeps, withRepository } from "./tuf-repository.ts";
import { type RootSigningState, roleOf, signingKeys, tryRotate } from "./tuf-root.ts";
import type { PendingRotation, RotatableRole } from "./tuf-store.ts";

/** What `bulwark tuf rotate --role` accepts; `all` is the three online roles. */
export const ROTATE_ROLES = ["root", "targets", "snapshot", "timestamp", "all"] as const;
export type RotateRole = (typeof ROTATE_ROLES)[number];

const ONLINE = ["targets", "snapshot", "timestamp"] as const;

export type RotationState = RootSigningState & { rotated: RotatableRole[] };

/** The root keys must all be held by the server to replace them here; offline ones go through sign-request. */
function checkRootHeld(ctx: RepositoryContext): void {
  const held = new Set((ctx.signers.root ?? []).map((s) => s.keyid));
  if (!ctx.repo.root.roles.root.keyids.every((id) => held.has(id)))
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      "the root keys are offline: replace them with bulwark tuf root sign-request --key NEW.pub.pem …",
    );
}

/**
 * New hybrid pairs in custody for each rotated role, as many pairs as the role has now (its
 * threshold stays): the label carries the root version that introduces them.
 */
async function generateFor(
  ctx: RepositoryContext,
  roles: RotatableRole[],
  version: number,
): Promise<PendingRotation> {
  const rotation: PendingRotation = { version, roleKeys: {} };
  for (const role of roles) {
    const pairs = Math.max(1, ctx.row.roleKeys[role].length / 2);
    const ids: string[] = [];
    for (let i = 0; i < pairs; i++)
      ids.push(
        ...(await generateSignerPair(ctx.deps.custody, `tuf:${ctx.row.productId}:${role}:v${version}`)),
      );
    rotation.roleKeys[role] = ids;
  }
  return rotation;
}

/** Root N+1 with the rotation's keys, signed by the root keys the server holds (old and new). */
async function signNext(ctx: RepositoryContext, rotation: PendingRotation, actor: AuditEntry["actor"]) {
  const { deps } = ctx;
  const current = ctx.repo.root;
  const version = rotation.version;
  const keysOf = async (r: "targets" | "snapshot" | "timestamp") => {
    const fresh = rotation.roleKeys[r];
    return fresh
      ? { keys: await tufKeysOf(deps.custody, fresh), threshold: current.roles[r].threshold }
      : roleOf(current, r);
  };
  const newRoot = rotation.roleKeys.root;
  const next: Root = buildRoot({
    version,
    expires: expiresFor("root", deps.now?.() ?? new Date(), DEFAULT_EXPIRY),
    roles: {
      root: newRoot
        ? { keys: await tufKeysOf(deps.custody, newRoot), threshold: current.roles.root.threshold }
        : roleOf(current, "root"),
      targets: await keysOf("targets"),
      snapshot: await keysOf("snapshot"),
      timestamp: await keysOf("timestamp"),
    },
  });
  // §5.3.4: the old root's keys the server holds, and the new root keys when it made them.
  const maySign = signingKeys(current, next);
  const held = (ctx.signers.root ?? []).filter((s) => Object.hasOwn(maySign, s.keyid));
  const fresh = await Promise.all((newRoot ?? []).map((id) => custodySigner(deps.custody, id)));
  const envelope = await signMetadata(next, [...held, ...fresh]);
  return tryRotate(ctx, envelope, actor, rotation);
}

/**
 * `bulwark tuf rotate PRODUCT_ID --role ROLE` (TUF spec §6.1 key rotation): new keys for the
 * role(s) in custody, root N+1 listing them. Root N+1 must be signed by a threshold of root N's
 * root keys and of its own (§5.3.4): the server signs with the root keys it holds (and with the
 * new root keys when the root role itself rotates); when root N's keys are offline the root is
 * left pending and its signing request goes to the holders (`tuf root sign` / `import-signature`).
 * Once root N+1 is complete, targets, snapshot and timestamp are re-signed by the new keys and
 * published, and the replaced keys are destroyed in custody.
 */
export async function rotateKeys(
  deps: TufDeps,
  productId: string,
  role: RotateRole,
  actor: AuditEntry["actor"],
): Promise<RotationState> {
  return withRepository(deps, productId, async (ctx) => {
    const current = ctx.repo.root;
    const pending = ctx.row.pendingRoot;
    if (pending && pending.signed.version === current.version + 1)
      throw new BulwarkError(
        "BW_ERR_CONFLICT",
        `root v${pending.signed.version} is waiting for signatures: import them (bulwark tuf root import-signature) or replace the request first`,
      );
    const roles: RotatableRole[] = role === "all" ? [...ONLINE] : [role];
    if (roles.includes("root")) checkRootHeld(ctx);
    const version = current.version + 1;
    const rotation = await generateFor(ctx, roles, version);
    let signed: Awaited<ReturnType<typeof tryRotate>>;
    try {
      signed = await signNext(ctx, rotation, actor);
    } catch (error) {
      // Nothing was stored: the keys made for this attempt must not outlive it.
      for (const id of Object.values(rotation.roleKeys).flat()) await deps.custody.destroy(id);
      throw error;
    }
    const { result, change } = signed;
    const requested: AuditEntry = {
      actor,
      action: "tuf.keys.rotate",
      target: { type: "product", id: productId },
      outcome: "success",
      details: { roles, rootVersion: version, status: result.status },
    };
    return {
      result: { ...result, rotated: roles },
      change: {
        ...change,
        also: async (tx) => {
          await change.also?.(tx);
          await appendAudit(tx, requested);
        },
      },
    };
  });
}
