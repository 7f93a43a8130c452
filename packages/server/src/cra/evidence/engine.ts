import { randomUUID } from "node:crypto";
import type { Queryable, Store } from "../../store/store.ts";
import type { Product } from "../product-source.ts";
import type { PART_I_2_ITEMS } from "../risk.ts";
import { type EvaluationOptions, EvidenceContext } from "./context.ts";
import { EVALUATORS, overall } from "./registry.ts";
import { STANDARDS_MAP, STANDARDS_MAP_VERSION } from "./standards-map.ts";
import {
  type Evaluator,
  type PlatformCapabilities,
  type RequirementId,
  type RequirementStatus,
  type Verdict,
  verdict,
} from "./types.ts";

export interface RequirementResult extends Verdict {
  id: RequirementId;
  clause: string;
  title: string;
  standards: string[];
}

export interface AnnexIMatrix {
  productId: string;
  productName: string;
  evaluatedAt: string;
  standardsMapVersion: string;
  summary: Record<RequirementStatus, number>;
  requirements: RequirementResult[];
}

/**
 * CRA Art. 13(3): the risk assessment says whether each Part I (2) item applies; one it
 * excludes, with its justification, is not applicable rather than evaluated.
 */
async function excluded(ctx: EvidenceContext, id: RequirementId): Promise<Verdict | undefined> {
  const item = /^I-2\(([a-m])\)$/.exec(id)?.[1] as (typeof PART_I_2_ITEMS)[number] | undefined;
  if (!item) return undefined;
  const entry = (await ctx.risk())?.document.applicability[item];
  if (!entry || entry.applies) return undefined;
  return verdict("not-applicable", entry.justification, [
    {
      source: "cra_risk_assessments",
      detail: `risk assessment version ${(await ctx.risk())!.version} excludes (2)(${item})`,
    },
  ]);
}

async function run(ctx: EvidenceContext, evaluator: Evaluator): Promise<RequirementResult> {
  let outcome: Verdict;
  try {
    outcome = (await excluded(ctx, evaluator.id)) ?? (await evaluator.evaluate(ctx));
  } catch (error) {
    // An evaluator that cannot read its evidence shows that, never a status it could not compute.
    outcome = verdict("not-met", `the evidence could not be read: ${(error as Error).message}`, []);
  }
  return {
    id: evaluator.id,
    clause: evaluator.clause,
    title: evaluator.title,
    standards: STANDARDS_MAP[evaluator.id],
    ...outcome,
  };
}

/** Evaluates all 22 requirements for a product from live platform state. */
export async function evaluateAnnexI(
  db: Queryable,
  product: Product,
  capabilities: PlatformCapabilities,
  now = Date.now(),
  options: EvaluationOptions = {},
): Promise<AnnexIMatrix> {
  const ctx = new EvidenceContext(db, product, capabilities, now, options);
  const parts: RequirementResult[] = [];
  for (const evaluator of EVALUATORS) parts.push(await run(ctx, evaluator));
  const first = await run(
    ctx,
    overall(() => parts.map((p) => p.status)),
  );
  const requirements = [first, ...parts];
  const summary: Record<RequirementStatus, number> = {
    met: 0,
    "partly-met": 0,
    "not-met": 0,
    "not-applicable": 0,
  };
  for (const r of requirements) summary[r.status]++;
  return {
    productId: product.id,
    productName: product.name,
    evaluatedAt: new Date(now).toISOString(),
    standardsMapVersion: STANDARDS_MAP_VERSION,
    summary,
    requirements,
  };
}

/**
 * Keeps a dated history per requirement: a snapshot row is written whenever a requirement's status
 * or reason differs from its last snapshot. Returns the requirements that changed.
 */
export async function recordSnapshots(store: Store, matrix: AnnexIMatrix): Promise<RequirementId[]> {
  return store.transaction(async (tx) => {
    const last = await tx.all<{ requirement: RequirementId; status: string; reason: string }>(
      `SELECT s.requirement, s.status, s.reason FROM cra_evidence_snapshots s
       JOIN (SELECT requirement, MAX(taken_at) AS at FROM cra_evidence_snapshots WHERE product_id = ? GROUP BY requirement) m
         ON m.requirement = s.requirement AND m.at = s.taken_at
       WHERE s.product_id = ?`,
      [matrix.productId, matrix.productId],
    );
    const previous = new Map(last.map((r) => [r.requirement, r]));
    // Strictly after the last snapshot, so "the latest per requirement" is never a tie.
    const newest = await tx.get<{ at: number | null }>(
      `SELECT MAX(taken_at) AS at FROM cra_evidence_snapshots WHERE product_id = ?`,
      [matrix.productId],
    );
    const at = Math.max(Date.parse(matrix.evaluatedAt), Number(newest?.at ?? 0) + 1);
    const changed: RequirementId[] = [];
    for (const r of matrix.requirements) {
      const before = previous.get(r.id);
      if (before && before.status === r.status && before.reason === r.reason) continue;
      changed.push(r.id);
      await tx.run(
        `INSERT INTO cra_evidence_snapshots (id, product_id, requirement, status, reason, evidence, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [randomUUID(), matrix.productId, r.id, r.status, r.reason, JSON.stringify(r.evidence), at],
      );
    }
    return changed;
  });
}

export interface Snapshot {
  requirement: RequirementId;
  status: RequirementStatus;
  reason: string;
  evidence: unknown[];
  takenAt: string;
}

export async function snapshotHistory(
  db: Queryable,
  productId: string,
  requirement?: string,
): Promise<Snapshot[]> {
  const rows = await db.all<{
    requirement: RequirementId;
    status: RequirementStatus;
    reason: string;
    evidence: string;
    taken_at: number;
  }>(
    `SELECT requirement, status, reason, evidence, taken_at FROM cra_evidence_snapshots
     WHERE product_id = ?${requirement ? " AND requirement = ?" : ""} ORDER BY taken_at, requirement`,
    requirement ? [productId, requirement] : [productId],
  );
  return rows.map((r) => ({
    requirement: r.requirement,
    status: r.status,
    reason: r.reason,
    evidence: JSON.parse(r.evidence) as unknown[],
    takenAt: new Date(Number(r.taken_at)).toISOString(),
  }));
}
