import { randomUUID } from "node:crypto";
import type { Queryable } from "../store/store.ts";

/**
 * Security testing records (CRA Annex I Part II (3): effective and regular tests and reviews),
 * attached to a product and, where one was tested, a release. Kinds name what was tested; some
 * kinds are the evidence other requirements ask for (factory-reset for Part I (2)(b), load for (h)).
 */
export const TEST_KINDS = [
  "penetration-test",
  "code-review",
  "static-analysis",
  "dependency-scan",
  "sbom-check",
  "fuzzing",
  "load",
  "factory-reset",
  "incident-response",
  "other",
] as const;
export type TestKind = (typeof TEST_KINDS)[number];
export const TEST_OUTCOMES = ["pass", "fail", "partial"] as const;
export type TestOutcome = (typeof TEST_OUTCOMES)[number];

export interface TestRecord {
  id: string;
  productId: string;
  releaseId: string | null;
  kind: TestKind;
  tool: string;
  outcome: TestOutcome;
  summary: string;
  report: string | null;
  performedAt: number;
  createdBy: string | null;
  createdAt: number;
}

interface TestRow {
  id: string;
  product_id: string;
  release_id: string | null;
  kind: TestKind;
  tool: string;
  outcome: TestOutcome;
  summary: string;
  report: string | null;
  performed_at: number;
  created_by: string | null;
  created_at: number;
}

const toRecord = (r: TestRow): TestRecord => ({
  id: r.id,
  productId: r.product_id,
  releaseId: r.release_id,
  kind: r.kind,
  tool: r.tool,
  outcome: r.outcome,
  summary: r.summary,
  report: r.report,
  performedAt: Number(r.performed_at),
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
});

export type TestInput = Pick<
  TestRecord,
  "releaseId" | "kind" | "tool" | "outcome" | "summary" | "report" | "performedAt"
>;

export async function addTestRecord(
  tx: Queryable,
  productId: string,
  input: TestInput,
  by: string | null,
): Promise<TestRecord> {
  const record: TestRecord = { ...input, id: randomUUID(), productId, createdBy: by, createdAt: Date.now() };
  await tx.run(
    `INSERT INTO cra_test_records (id, product_id, release_id, kind, tool, outcome, summary, report, performed_at,
      created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      record.id,
      productId,
      record.releaseId,
      record.kind,
      record.tool,
      record.outcome,
      record.summary,
      record.report,
      record.performedAt,
      by,
      record.createdAt,
    ],
  );
  return record;
}

export async function testRecords(db: Queryable, productId: string): Promise<TestRecord[]> {
  const rows = await db.all<TestRow>(
    `SELECT * FROM cra_test_records WHERE product_id = ? ORDER BY performed_at DESC`,
    [productId],
  );
  return rows.map(toRecord);
}
