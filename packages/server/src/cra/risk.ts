import { createHash } from "node:crypto";
import type { Queryable } from "../store/store.ts";

/** The Annex I Part I (2) items, (a)–(m): a risk assessment says for each whether and how it applies. */
export const PART_I_2_ITEMS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"] as const;
export type PartI2Item = (typeof PART_I_2_ITEMS)[number];

export interface RiskAssessmentDocument {
  /** What the product holds or does that an attacker would want (data, functions, keys). */
  assets: { id: string; description: string }[];
  threats: {
    id: string;
    description: string;
    assets: string[];
    likelihood: "low" | "medium" | "high";
    impact: "low" | "medium" | "high";
  }[];
  /** CRA Art. 13(3): for each Part I (2) item, whether it applies and how, with the justification. */
  applicability: Record<PartI2Item, { applies: boolean; how: string; justification: string }>;
  /** Art. 13(2): the intended purpose and reasonably foreseeable use the assessment is for. */
  context: string;
}

export interface RiskAssessment {
  productId: string;
  version: number;
  document: RiskAssessmentDocument;
  sha256: string;
  createdBy: string | null;
  createdAt: number;
}

interface RiskRow {
  product_id: string;
  version: number;
  document: string;
  sha256: string;
  created_by: string | null;
  created_at: number;
}

const toAssessment = (r: RiskRow): RiskAssessment => ({
  productId: r.product_id,
  version: Number(r.version),
  document: JSON.parse(r.document) as RiskAssessmentDocument,
  sha256: r.sha256,
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
});

const RISK_LEVEL = { type: "string", enum: ["low", "medium", "high"] } as const;
const TEXT = { type: "string", minLength: 1, maxLength: 4000 } as const;
const REF = { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._-]+$" } as const;

/** JSON schema of a risk assessment document, for the HTTP edge. */
export const RISK_ASSESSMENT_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["assets", "threats", "applicability", "context"],
  properties: {
    context: TEXT,
    assets: {
      type: "array",
      minItems: 1,
      maxItems: 200,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "description"],
        properties: { id: REF, description: TEXT },
      },
    },
    threats: {
      type: "array",
      minItems: 1,
      maxItems: 500,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "description", "assets", "likelihood", "impact"],
        properties: {
          id: REF,
          description: TEXT,
          assets: { type: "array", minItems: 1, maxItems: 200, items: REF },
          likelihood: RISK_LEVEL,
          impact: RISK_LEVEL,
        },
      },
    },
    applicability: {
      type: "object",
      additionalProperties: false,
      required: [...PART_I_2_ITEMS],
      properties: Object.fromEntries(
        PART_I_2_ITEMS.map((item) => [
          item,
          {
            type: "object",
            additionalProperties: false,
            required: ["applies", "how", "justification"],
            properties: {
              applies: { type: "boolean" },
              how: { type: "string", maxLength: 4000 },
              justification: TEXT,
            },
          },
        ]),
      ),
    },
  },
} as const;

/** Threats must name assets the document lists; returns the problem, or null. */
export function riskDocumentProblem(doc: RiskAssessmentDocument): string | null {
  const assets = new Set(doc.assets.map((a) => a.id));
  for (const t of doc.threats)
    for (const a of t.assets) if (!assets.has(a)) return `threat ${t.id} names unknown asset ${a}`;
  return null;
}

/** Appends the next immutable version of a product's risk assessment. */
export async function addRiskAssessment(
  tx: Queryable,
  productId: string,
  document: RiskAssessmentDocument,
  by: string | null,
): Promise<RiskAssessment> {
  const last = await tx.get<{ v: number | null }>(
    `SELECT MAX(version) AS v FROM cra_risk_assessments WHERE product_id = ?`,
    [productId],
  );
  const text = JSON.stringify(document);
  const row: RiskRow = {
    product_id: productId,
    version: Number(last?.v ?? 0) + 1,
    document: text,
    sha256: createHash("sha256").update(text).digest("hex"),
    created_by: by,
    created_at: Date.now(),
  };
  // The (product, version) primary key refuses a concurrent writer of the same version.
  await tx.run(
    `INSERT INTO cra_risk_assessments (product_id, version, document, sha256, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    [row.product_id, row.version, row.document, row.sha256, row.created_by, row.created_at],
  );
  return toAssessment(row);
}

export async function currentRiskAssessment(
  db: Queryable,
  productId: string,
): Promise<RiskAssessment | undefined> {
  const row = await db.get<RiskRow>(
    `SELECT * FROM cra_risk_assessments WHERE product_id = ? ORDER BY version DESC LIMIT 1`,
    [productId],
  );
  return row && toAssessment(row);
}

export async function riskAssessmentVersions(db: Queryable, productId: string): Promise<RiskAssessment[]> {
  return (
    await db.all<RiskRow>(`SELECT * FROM cra_risk_assessments WHERE product_id = ? ORDER BY version DESC`, [
      productId,
    ])
  ).map(toAssessment);
}
