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
import { tufKeysOf } from "./tuf-keys.ts";
import {
  type RepositoryChange,
  type RepositoryContext,
  type TufDeps,
  withRepository,
} from "./tuf-repository.ts";
import { type RoleKeyIds, updateTufRepository } from "./tuf-store.ts";

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

const roleOf = (root: Root, role: "targets" | "snapshot" | "timestamp") => ({
  keys: root.roles[role].keyids.map((id) => root.keys[id]!),
  threshold: root.roles[role].threshold,
});

/** The keys that may sign root N+1 (TUF spec §5.3.4): root N's root keys and its own. */
function signingKeys(current: Root, next: Root): Record<string, TufKey> {
  const keys: Record<string, TufKey> = {};
  for (const root of [current, next]) for (const id of root.roles.root.keyids) keys[id] = root.keys[id]!;
  return keys;
}

/** Publishes root N+1 if both thresholds are met, else leaves it pending; the custody root ids follow it. */
async function tryRotate(
  ctx: RepositoryContext,
  envelope: Envelope<Root>,
  actor: AuditEntry["actor"],
): Promise<{ result: RootSigningState; change: RepositoryChange }> {
  const current = ctx.repo.root;
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
        also: (tx: Queryable) => updateTufRepository(tx, ctx.row.productId, { pendingRoot: envelope }),
      },
    };
  }
  ctx.repo.rotateRoot(envelope);
  const held = await tufKeysOf(ctx.deps.custody, ctx.row.roleKeys.root);
  const newRootIds = new Set(envelope.signed.roles.root.keyids);
  const roleKeys: RoleKeyIds = {
    ...ctx.row.roleKeys,
    root: ctx.row.roleKeys.root.filter((_, i) => newRootIds.has(keyIdOf(held[i]!))),
  };
  return {
    result: { status: "published", version: envelope.signed.version },
    change: {
      roleKeys,
      also: (tx: Queryable) => updateTufRepository(tx, ctx.row.productId, { pendingRoot: null }),
      audit: {
        actor,
        action: "tuf.root.rotate",
        target: { type: "product", id: ctx.row.productId },
        outcome: "success" as const,
        details: {
          version: envelope.signed.version,
          rootKeys: envelope.signed.roles.root.keyids,
          threshold: envelope.signed.roles.root.threshold,
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
    return tryRotate(ctx, await signMetadata(next, held), actor);
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
