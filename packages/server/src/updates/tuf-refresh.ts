import type { Logger } from "pino";
import { type RepositoryContext, type TufDeps, withRepository } from "./tuf-repository.ts";
import { productsWithRepositories } from "./tuf-store.ts";

/** How long before expiry each kind of metadata is re-signed (the timestamp: a few hours). */
export interface RefreshMargins {
  timestampSeconds: number;
  snapshotSeconds: number;
  targetsSeconds: number;
}

export const DEFAULT_MARGINS: RefreshMargins = {
  timestampSeconds: 6 * 3600,
  snapshotSeconds: 24 * 3600,
  targetsSeconds: 7 * 24 * 3600,
};

const dueWithin = (expires: string, now: Date, seconds: number) =>
  Date.parse(expires) - now.getTime() <= seconds * 1000;

function snapshotExpires(ctx: RepositoryContext): string {
  const timestamp = JSON.parse(ctx.repo.files().get("timestamp.json")!.toString()) as {
    signed: { meta: { "snapshot.json": { version: number } } };
  };
  const name = `${timestamp.signed.meta["snapshot.json"].version}.snapshot.json`;
  return (JSON.parse(ctx.repo.files().get(name)!.toString()) as { signed: { expires: string } }).signed
    .expires;
}

/**
 * Keeps a product's repository from expiring (TUF spec §6.3; clients refuse expired metadata,
 * §5.4.4, §5.5.6, §5.6.5): targets roles near expiry are renewed and republished with a new
 * snapshot and timestamp; otherwise a timestamp near expiry is re-signed by its online key.
 */
export async function refreshRepository(
  deps: TufDeps,
  productId: string,
  margins: RefreshMargins = DEFAULT_MARGINS,
): Promise<"none" | "timestamp" | "republished"> {
  return withRepository(deps, productId, async (ctx) => {
    const now = deps.now?.() ?? new Date();
    const roles = ["targets", ...Object.keys(ctx.row.roleKeys.components)];
    const stale = roles.filter((role) =>
      dueWithin(ctx.repo.targets(role)!.expires, now, margins.targetsSeconds),
    );
    if (stale.length > 0 || dueWithin(snapshotExpires(ctx), now, margins.snapshotSeconds)) {
      for (const role of stale) ctx.repo.renew(role);
      await ctx.repo.publish(ctx.signers);
      return { result: "republished" as const };
    }
    if (!ctx.repo.timestampDue(margins.timestampSeconds)) return { result: "none" as const };
    await ctx.repo.refreshTimestamp(ctx.signers);
    return { result: "timestamp" as const };
  });
}

/** Checks every product's repository every `intervalMs`; returns the function that stops it. */
export function startRefresh(deps: TufDeps, log: Logger, intervalMs: number): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      for (const productId of await productsWithRepositories(deps.store)) {
        const done = await refreshRepository(deps, productId);
        if (done !== "none") log.info({ productId, done }, "TUF metadata re-signed before expiry");
      }
    } catch (error) {
      log.error({ err: error }, "TUF metadata refresh failed");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
