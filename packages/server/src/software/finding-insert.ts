import type { Queryable, SqlValue } from "../store/store.ts";
import { FINDING_COLUMNS, type FindingRow, rowValues } from "./findings.ts";
import { chunks, insertMany, placeholders } from "./sql.ts";
import { UNTRIAGED } from "./triage.ts";

/**
 * Bulk insert of new findings, the hot path of a large re-match. A new finding without carried-over
 * triage is open and untriaged, so those columns are SQL literals (or left NULL) instead of bound
 * values: 16 values per row instead of 23. Rows carrying triage go through the full column list.
 */
// Written as SQL literals (status, triage_state) or left NULL for an untriaged new finding.
const NOT_BOUND: readonly (keyof FindingRow)[] = [
  "status",
  "resolution",
  "triage_state",
  "triage",
  "triage_source",
  "triaged_at",
  "resolved_at",
];
const BOUND = FINDING_COLUMNS.filter((c) => !NOT_BOUND.includes(c));

/** Rows per statement: 250 × 16 = 4,000 parameters, under SQLite's 32,766 and PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 250;

// The literals are constants of this module, never input.
const TUPLE = `(${placeholders(BOUND.length)}, 'open', '${UNTRIAGED.state}')`;
const HEAD = `INSERT INTO findings (${BOUND.join(", ")}, status, triage_state) VALUES `;

const isPlain = (r: FindingRow): boolean =>
  r.status === "open" &&
  r.resolution === null &&
  r.triage_state === UNTRIAGED.state &&
  r.triage === null &&
  r.triage_source === null &&
  r.triaged_at === null &&
  r.resolved_at === null;

export async function insertFindings(tx: Queryable, rows: readonly FindingRow[]): Promise<void> {
  const plain = rows.filter(isPlain);
  for (const batch of chunks(plain, ROWS_PER_STATEMENT)) {
    const params: SqlValue[] = [];
    for (const r of batch) for (const c of BOUND) params.push(r[c]);
    await tx.run(HEAD + Array.from({ length: batch.length }, () => TUPLE).join(", "), params);
  }
  const other = rows.filter((r) => !isPlain(r));
  await insertMany(tx, "findings", FINDING_COLUMNS, other.map(rowValues));
}
