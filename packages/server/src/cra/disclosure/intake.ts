import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../../store/store.ts";

/**
 * The public vulnerability intake (CRA Annex I Part II (6)): anyone may report without an account;
 * each report gets a confirmation id to follow up with, and enters a triage queue whose state
 * changes are audit-logged.
 */
export const INTAKE_STATES = [
  "received",
  "triaging",
  "accepted",
  "rejected",
  "duplicate",
  "resolved",
] as const;
export type IntakeState = (typeof INTAKE_STATES)[number];

/** Allowed moves; `accepted` reports may be escalated into an Article 14 event. */
const NEXT: Record<IntakeState, readonly IntakeState[]> = {
  received: ["triaging", "rejected", "duplicate"],
  triaging: ["accepted", "rejected", "duplicate"],
  accepted: ["resolved"],
  rejected: [],
  duplicate: [],
  resolved: [],
};

export interface IntakeReport {
  id: string;
  receivedAt: number;
  productHint: string | null;
  title: string;
  body: string;
  contact: string | null;
  encrypted: boolean;
  state: IntakeState;
  eventId: string | null;
  note: string | null;
  updatedAt: number;
}

export interface IntakeInput {
  title: string;
  description: string;
  product?: string;
  contact?: string;
  /** The description is an OpenPGP message encrypted to the published key. */
  encrypted?: boolean;
}

/** An ASCII-armoured OpenPGP message (RFC 9580 §6.2), the only form an encrypted report may take. */
const ARMOURED = /^-----BEGIN PGP MESSAGE-----\r?\n[\s\S]+\r?\n-----END PGP MESSAGE-----\s*$/;

interface Row {
  id: string;
  received_at: number;
  product_hint: string | null;
  title: string;
  body: string;
  contact: string | null;
  encrypted: number;
  state: IntakeState;
  event_id: string | null;
  note: string | null;
  updated_at: number;
}

const toReport = (r: Row): IntakeReport => ({
  id: r.id,
  receivedAt: Number(r.received_at),
  productHint: r.product_hint,
  title: r.title,
  body: r.body,
  contact: r.contact,
  encrypted: Number(r.encrypted) === 1,
  state: r.state,
  eventId: r.event_id,
  note: r.note,
  updatedAt: Number(r.updated_at),
});

/** Stores one report (one INSERT: nothing partial); returns its confirmation id. */
export async function receiveReport(
  tx: Queryable,
  input: IntakeInput,
  now = Date.now(),
): Promise<IntakeReport> {
  if (input.encrypted && !ARMOURED.test(input.description))
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      "an encrypted report must be one ASCII-armoured OpenPGP message",
    );
  const report: IntakeReport = {
    id: randomUUID(),
    receivedAt: now,
    productHint: input.product ?? null,
    title: input.title,
    body: input.description,
    contact: input.contact ?? null,
    encrypted: input.encrypted === true,
    state: "received",
    eventId: null,
    note: null,
    updatedAt: now,
  };
  await tx.run(
    `INSERT INTO cra_intake_reports (id, received_at, product_hint, title, body, contact, encrypted, state, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      report.id,
      now,
      report.productHint,
      report.title,
      report.body,
      report.contact,
      report.encrypted ? 1 : 0,
      report.state,
      now,
    ],
  );
  return report;
}

export async function intakeReport(db: Queryable, id: string): Promise<IntakeReport | undefined> {
  const row = await db.get<Row>(`SELECT * FROM cra_intake_reports WHERE id = ?`, [id]);
  return row && toReport(row);
}

export async function listIntake(db: Queryable, state?: IntakeState): Promise<IntakeReport[]> {
  const rows = await db.all<Row>(
    `SELECT * FROM cra_intake_reports ${state ? "WHERE state = ?" : ""} ORDER BY received_at DESC LIMIT 500`,
    state ? [state] : [],
  );
  return rows.map(toReport);
}

/** Moves a report along the triage queue, guarded by its current state. */
export async function moveReport(
  tx: Queryable,
  id: string,
  to: IntakeState,
  note: string | null,
  eventId: string | null = null,
): Promise<IntakeReport> {
  const report = await intakeReport(tx, id);
  if (!report) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such intake report");
  if (!NEXT[report.state].includes(to))
    throw new BulwarkError("BW_ERR_CONFLICT", `a ${report.state} report cannot become ${to}`);
  const { changes } = await tx.run(
    `UPDATE cra_intake_reports SET state = ?, note = ?, event_id = COALESCE(?, event_id), updated_at = ? WHERE id = ? AND state = ?`,
    [to, note, eventId, Date.now(), id, report.state],
  );
  if (changes === 0) throw new BulwarkError("BW_ERR_CONFLICT", "the report changed meanwhile");
  return (await intakeReport(tx, id))!;
}
