import { createPublicKey } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import {
  buildRoot,
  createSigningRequest,
  DEFAULT_EXPIRY,
  type DetachedSignature,
  type Envelope,
  expiresFor,
  importSignature,
  isTufError,
  keyFamily,
  keyIdOf,
  type Root,
  type SigningRequest,
  signMetadata,
  type TufKey,
  tufKeyOf,
  verifyRootSuccessor,
} from "@bulwark/sdk/tuf";
import type { AuditEntry } from "../audit/audit-log.ts";
import type { Queryable } from "../store/store.ts";
import { roleSigners, tufKeysOf } from "./tuf-keys.ts";
import {
  type RepositoryChange,
  type RepositoryContext,
  type TufDeps,
  withRepository,
} from "./tuf-repository.ts";
import {
  type PendingRotation,
  type RoleKeyIds,
  type RotatableRole,
  updateTufRepository,
} from "./tuf-store.ts";

/** What the operator asks for in the next root: its root keys (public PEMs) and k. */
export interface RootChange {
  rootKeys?: string[];
  threshold?: number;
}

export type RootSigningState =
  | { status: "published"; version: number }
  | { status: "pending"; version: number; request: SigningRequest };

function parseKeys(pems: string[]): TufKey[] {
  return pems.map((pem) => {
    try {
      return tufKeyOf(createPublicKey(pem));
    } catch {
      throw new BulwarkError(
        "BW_ERR_VALIDATION",
        "each root key must be an ECDSA P-256 or ML-DSA-65 public key (PEM)",
      );
    }
  });
}

/** The hybrid policy needs k keys of each family (docs/tuf.md): refuse a root that could never be signed. */
function checkHybridThreshold(keys: TufKey[], threshold: number): void {
  for (const family of ["ecdsa", "ml-dsa"] as const) {
    const count = new Set(keys.filter((k) => keyFamily(k) === family).map(keyIdOf)).size;
    if (count < threshold)
      throw new BulwarkError(
        "BW_ERR_VALIDATION",
        `a threshold of ${threshold} needs ${threshold} ${family} root keys, got ${count}`,
      );
  }
}

export const roleOf = (root: Root, role: "root" | "targets" | "snapshot" | "timestamp") => ({
  keys: root.roles[role].keyids.map((id) => root.keys[id]!),
  threshold: root.roles[role].threshold,
});

/** The keys that may sign root N+1 (TUF spec §5.3.4): root N's root keys and its own. */
export function signingKeys(current: Root, next: Root): Record<string, TufKey> {
  const keys: Record<string, TufKey> = {};
  for (const root of [current, next]) for (const id of root.roles.root.keyids) keys[id] = root.keys[id]!;
  return keys;
}

/** Custody ids of a pending rotation's keys (all roles). */
const rotationKeys = (rotation: PendingRotation | null | undefined): string[] =>
  Object.values(rotation?.roleKeys ?? {}).flat();

/** Destroys retired custody keys after the commit: a retired key must never sign again (TUF spec §6.1). */
const destroyAll = (ctx: RepositoryContext, ids: string[]) => async () => {
  for (const id of ids) await ctx.deps.custody.destroy(id);
};

/**
 * Root N+1 is published: the custody keys follow it. Root keys it no longer lists and online keys
 * a rotation replaced are retired (destroyed); a rotation's new online keys are adopted only if
 * root N+1 lists exactly them. If targets, snapshot or timestamp changed keys, those roles are
 * re-signed by the new keys and published at once (a new snapshot and timestamp, and a new
 * top-level targets when its keys changed), so the repository never serves a role signed by a
 * key its root no longer lists.
 */
async function adoptRoot(
  ctx: RepositoryContext,
  next: Root,
  rotation: PendingRotation | null,
): Promise<{ roleKeys: RoleKeyIds; retired: string[]; rotated: RotatableRole[] }> {
  const { custody } = ctx.deps;
  const listed = (role: RotatableRole) => new Set(next.roles[role].keyids);
  const tufIds = async (ids: string[]) => (await tufKeysOf(custody, ids)).map(keyIdOf);
  const roleKeys: RoleKeyIds = { ...ctx.row.roleKeys };
  const retired: string[] = [];
  const rotated: RotatableRole[] = [];
  // Root: every held key the new root lists, old or new; the rest can only forge an old version.
  const candidates = [...ctx.row.roleKeys.root, ...(rotation?.roleKeys.root ?? [])];
  const candidateIds = await tufIds(candidates);
  roleKeys.root = candidates.filter((_, i) => listed("root").has(candidateIds[i]!));
  retired.push(...candidates.filter((id) => !roleKeys.root.includes(id)));
  if (rotation?.roleKeys.root && roleKeys.root.some((id) => rotation.roleKeys.root!.includes(id)))
    rotated.push("root");
  for (const role of ["targets", "snapshot", "timestamp"] as const) {
    const fresh = rotation?.roleKeys[role];
    if (!fresh) continue;
    const ids = await tufIds(fresh);
    const want = listed(role);
    if (ids.length === want.size && ids.every((id) => want.has(id))) {
      retired.push(...roleKeys[role]);
      roleKeys[role] = fresh;
      rotated.push(role);
    } else retired.push(...fresh);
  }
  if (rotated.some((r) => r !== "root")) {
    if (rotated.includes("targets")) ctx.repo.renew("targets");
    await ctx.repo.publish(await roleSigners(custody, roleKeys));
  }
  return { roleKeys, retired, rotated };
}

/**
 * Publishes root N+1 if both thresholds are met, else leaves it pending; the custody keys follow
 * it. `rotation` is the rotation this root belongs to (undefined: the one already pending; null:
 * none, and a pending rotation's keys are retired).
 */
export async function tryRotate(
  ctx: RepositoryContext,
  envelope: Envelope<Root>,
  actor: AuditEntry["actor"],
  rotation?: PendingRotation | null,
): Promise<{ result: RootSigningState; change: RepositoryChange }> {
  const current = ctx.repo.root;
  const stored = ctx.row.pendingRotation;
  const mine = rotation === undefined ? stored : rotation;
  // A rotation that is replaced by another request loses its keys.
  const replaced = rotation !== undefined && stored ? rotationKeys(stored) : [];
  try {
    verifyRootSuccessor(current, envelope, "hybrid");
  } catch (error) {
    if (!isTufError(error) || error.code !== "TUF_THRESHOLD_NOT_MET") throw error;
    const signed = new Set(envelope.signatures.map((s) => s.keyid));
    const asked = Object.values(signingKeys(current, envelope.signed)).filter((k) => !signed.has(keyIdOf(k)));
    return {
      result: {
        status: "pending",
        version: envelope.signed.version,
        request: createSigningRequest(envelope.signed, asked),
      },
      change: {
        also: (tx: Queryable) =>
          updateTufRepository(tx, ctx.row.productId, { pendingRoot: envelope, pendingRotation: mine }),
        afterCommit: destroyAll(ctx, replaced),
      },
    };
  }
  ctx.repo.rotateRoot(envelope);
  const adopted = await adoptRoot(
    ctx,
    envelope.signed,
    mine?.version === envelope.signed.version ? mine : null,
  );
  const retired = [...adopted.retired, ...replaced.filter((id) => !adopted.retired.includes(id))];
  return {
    result: { status: "published", version: envelope.signed.version },
    change: {
      roleKeys: adopted.roleKeys,
      also: (tx: Queryable) =>
        updateTufRepository(tx, ctx.row.productId, { pendingRoot: null, pendingRotation: null }),
      afterCommit: destroyAll(ctx, retired),
      audit: {
        actor,
        action: "tuf.root.rotate",
        target: { type: "product", id: ctx.row.productId },
        outcome: "success" as const,
        details: {
          version: envelope.signed.version,
          rootKeys: envelope.signed.roles.root.keyids,
          threshold: envelope.signed.roles.root.threshold,
          ...(adopted.rotated.length > 0 ? { rotated: adopted.rotated } : {}),
          retiredKeys: retired.length,
        },
      },
    },
  };
}

/**
 * `bulwark tuf root sign-request`: builds root N+1 (TUF spec §6.1 key rotation) with the given
 * root keys and threshold and the current online roles, signs it with the root keys the server
 * still holds, and returns the signing request for the offline holders (or publishes it at once
 * when the held keys already meet both thresholds).
 */
export async function requestRootSigning(
  deps: TufDeps,
  productId: string,
  change: RootChange,
  actor: AuditEntry["actor"],
): Promise<RootSigningState> {
  return withRepository(deps, productId, async (ctx) => {
    const current = ctx.repo.root;
    const rootKeys = change.rootKeys
      ? parseKeys(change.rootKeys)
      : current.roles.root.keyids.map((id) => current.keys[id]!);
    const threshold = change.threshold ?? current.roles.root.threshold;
    checkHybridThreshold(rootKeys, threshold);
    const next = buildRoot({
      version: current.version + 1,
      expires: expiresFor("root", deps.now?.() ?? new Date(), DEFAULT_EXPIRY),
      roles: {
        root: { keys: rootKeys, threshold },
        targets: roleOf(current, "targets"),
        snapshot: roleOf(current, "snapshot"),
        timestamp: roleOf(current, "timestamp"),
      },
    });
    const maySign = signingKeys(current, next);
    const held = (ctx.signers.root ?? []).filter((s) => Object.hasOwn(maySign, s.keyid));
    return tryRotate(ctx, await signMetadata(next, held), actor, null);
  });
}

/** `bulwark tuf root import-signature`: adds one offline signature to the pending root N+1. */
export async function importRootSignature(
  deps: TufDeps,
  productId: string,
  signature: DetachedSignature,
  actor: AuditEntry["actor"],
): Promise<RootSigningState> {
  return withRepository(deps, productId, async (ctx) => {
    const pending = ctx.row.pendingRoot;
    if (!pending || pending.signed.version !== ctx.repo.root.version + 1)
      throw new BulwarkError("BW_ERR_CONFLICT", "no root signing request is pending; create one first");
    const envelope = importSignature(pending, signature, signingKeys(ctx.repo.root, pending.signed));
    return tryRotate(ctx, envelope, actor);
  });
}

/** The pending request, if any. */
export async function pendingRootRequest(
  deps: TufDeps,
  productId: string,
): Promise<RootSigningState | undefined> {
  return withRepository(deps, productId, async (ctx) => {
    const pending = ctx.row.pendingRoot;
    if (!pending || pending.signed.version !== ctx.repo.root.version + 1) return { result: undefined };
    const signed = new Set(pending.signatures.map((s) => s.keyid));
    const asked = Object.values(signingKeys(ctx.repo.root, pending.signed)).filter(
      (k) => !signed.has(keyIdOf(k)),
    );
    return {
      result: {
        status: "pending" as const,
        version: pending.signed.version,
        request: createSigningRequest(pending.signed, asked),
      },
    };
  });
}
