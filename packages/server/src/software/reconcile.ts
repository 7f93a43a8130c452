import type { Queryable, SqlValue } from "../store/store.ts";
import { DETAIL_COLUMNS, type DetailValues, detailTuple, selectFindings } from "./findings.ts";

export type { DetailValues };

import { chunks, placeholders } from "../store/placeholders.ts";
import { findingId, findingKey, findingKeySql, MATCH_LIMIT, RELEASE_SPAN } from "./ids.ts";
import type { RematchEventType, RematchResult } from "./rematch-result.ts";
import { allocate, insertMany, runIn, selectIn } from "./sql.ts";
import { type Triage, UNTRIAGED } from "./triage.ts";

/**
 * Reconciliation steps of a re-match, on matches (purl × vulnerability) and then on their findings
 * (match × release) by key range: resolve vanished matches, refresh changed or revived ones, insert
 * new ones and fan them out to every release holding the purl in SQL, and give holders still
 * without a finding theirs (with triage carried over). Each records what it did in the result.
 */

export interface DesiredMatch {
  purl: string;
  vuln: string;
  values: DetailValues;
  contentKey: string;
}

export interface StoredMatch {
  match_no: number;
  purl: string;
  vuln_id: string;
  live: number;
  content_key: string;
  known_exploited: number;
  advisory_ids: string;
}

/** The state of one re-match run that the steps share. */
export interface Reconciled {
  now: number;
  wanted: ReadonlySet<RematchEventType>;
  result: RematchResult;
}

/** The findings of match `m`: the key range [lo, hi). */
const rangeOf = (matchNo: number): [number, number] => [matchNo * RELEASE_SPAN, (matchNo + 1) * RELEASE_SPAN];

async function emit(
  tx: Queryable,
  run: Reconciled,
  type: RematchEventType,
  clause: string,
  params: readonly SqlValue[],
): Promise<void> {
  if (!run.wanted.has(type)) return;
  for (const row of await selectFindings(tx, `WHERE ${clause} ORDER BY f.n`, params))
    run.result.events.push({ type, findingId: row.id, row });
}

async function emitKeys(tx: Queryable, run: Reconciled, type: RematchEventType, keys: readonly number[]) {
  if (!run.wanted.has(type)) return;
  for (const batch of chunks(keys))
    await emit(tx, run, type, `f.n IN (${placeholders(batch.length)})`, batch);
}

const DETAIL_ROW_COLUMNS = ["detail_no", "content_key", ...DETAIL_COLUMNS];

/** Stores the details the desired matches need (content-addressed); returns content key → number. */
export async function storeDetails(
  tx: Queryable,
  wants: readonly DesiredMatch[],
): Promise<Map<string, number>> {
  const values = new Map(wants.map((w) => [w.contentKey, w.values]));
  const lookup = async (keys: readonly string[], into: Map<string, number>) => {
    const rows = await selectIn<{ detail_no: number; content_key: string }>(
      tx,
      (list) => `SELECT detail_no, content_key FROM finding_details WHERE content_key IN (${list})`,
      keys,
    );
    for (const r of rows) into.set(r.content_key, Number(r.detail_no));
  };
  const numbers = new Map<string, number>();
  await lookup([...values.keys()], numbers);
  const missing = [...values.keys()].filter((k) => !numbers.has(k));
  if (missing.length === 0) return numbers;
  const first = await allocate(tx, "detail", missing.length);
  const rows = missing.map((key, i): SqlValue[] => {
    const v = values.get(key)!;
    return [first + i, key, ...detailTuple(v)];
  });
  // A concurrent transaction (PostgreSQL) may have stored the same content first: keep its row.
  await insertMany(tx, "finding_details", DETAIL_ROW_COLUMNS, rows, "ON CONFLICT (content_key) DO NOTHING");
  await lookup(missing, numbers);
  return numbers;
}

// A match no advisory backs any more: its open findings are resolved.
export async function resolveMatches(
  tx: Queryable,
  vanished: readonly StoredMatch[],
  run: Reconciled,
): Promise<void> {
  if (vanished.length === 0) return;
  const ids = new Set(vanished.flatMap((m) => JSON.parse(m.advisory_ids) as string[]));
  const live = new Set(
    (
      await selectIn<{ id: string }>(
        tx,
        (list) => `SELECT id FROM vulnerabilities WHERE id IN (${list}) AND withdrawn IS NULL`,
        [...ids],
      )
    ).map((r) => r.id),
  );
  await runIn(
    tx,
    (list) => `UPDATE finding_matches SET live = 0 WHERE match_no IN (${list})`,
    vanished.map((m) => String(m.match_no)),
  );
  for (const m of vanished) {
    // OSV schema §withdrawn: a finding that only rested on withdrawn records is resolved as withdrawn.
    const resolution = (JSON.parse(m.advisory_ids) as string[]).some((id) => live.has(id))
      ? "no-longer-affected"
      : "withdrawn";
    const { changes } = await tx.run(
      `UPDATE findings SET status = 'resolved', resolution = ?, resolved_at = ?, updated_at = ?
        WHERE n >= ? AND n < ? AND status = 'open'`,
      [resolution, run.now, run.now, ...rangeOf(m.match_no)],
    );
    run.result.resolved += changes;
  }
}

/**
 * The findings of a match that stops being known-exploited (its CVEs left the KEV catalogue), read
 * before they change: the monitor audit-logs each, with the Art. 14 flag it had.
 */
async function noteUnexploited(tx: Queryable, run: Reconciled, range: [number, number]): Promise<void> {
  for (const row of await selectFindings(tx, `WHERE f.n >= ? AND f.n < ? ORDER BY f.n`, range))
    run.result.unexploited.push({
      findingId: row.id,
      vulnerability: row.vuln_id,
      article14Candidate: Number(row.article14_candidate) === 1,
    });
}

// A match whose details changed, or that matches again: its findings are updated or reopened.
export async function refreshMatches(
  tx: Queryable,
  changed: readonly { stored: StoredMatch; want: DesiredMatch }[],
  details: ReadonlyMap<string, number>,
  run: Reconciled,
): Promise<void> {
  for (const { stored: s, want } of changed) {
    const range = rangeOf(s.match_no);
    const newlyExploited = s.known_exploited === 0 && want.values.known_exploited === 1 ? 1 : 0;
    const noLongerExploited = s.known_exploited === 1 && want.values.known_exploited === 0 ? 1 : 0;
    if (noLongerExploited) await noteUnexploited(tx, run, range);
    await tx.run(`UPDATE finding_matches SET detail_no = ?, live = 1 WHERE match_no = ?`, [
      details.get(want.contentKey)!,
      s.match_no,
    ]);
    // CRA Art. 14(1): the candidate flag follows known-exploited both ways. Only the flag: a report
    // whose clock already started is not withdrawn by it (no report state lives on a finding).
    const article14 = `article14_candidate = CASE WHEN ? = 1 THEN 1 WHEN ? = 1 THEN 0 ELSE article14_candidate END`;
    const flags = [newlyExploited, noLongerExploited];
    if (s.live === 1 && s.content_key !== want.contentKey) {
      const { changes } = await tx.run(
        `UPDATE findings SET updated_at = ?, ${article14} WHERE n >= ? AND n < ? AND status = 'open'`,
        [run.now, ...flags, ...range],
      );
      run.result.updated += changes;
      const openInRange = `f.n >= ? AND f.n < ? AND f.status = 'open'`;
      if (newlyExploited && changes > 0) await emit(tx, run, "finding.known-exploited", openInRange, range);
      if (noLongerExploited && changes > 0)
        await emit(tx, run, "finding.known-exploited-removed", openInRange, range);
    }
    const reopening =
      run.wanted.size === 0
        ? []
        : (
            await tx.all<{ n: number }>(
              `SELECT n FROM findings WHERE n >= ? AND n < ? AND status = 'resolved' ORDER BY n`,
              range,
            )
          ).map((r) => Number(r.n));
    const { changes } = await tx.run(
      `UPDATE findings SET status = 'open', resolution = NULL, resolved_at = NULL, updated_at = ?, ${article14}
        WHERE n >= ? AND n < ? AND status = 'resolved'`,
      [run.now, ...flags, ...range],
    );
    run.result.reopened += changes;
    await emitKeys(tx, run, "finding.new", reopening);
    if (newlyExploited) await emitKeys(tx, run, "finding.known-exploited", reopening);
    if (noLongerExploited) await emitKeys(tx, run, "finding.known-exploited-removed", reopening);
  }
}

/** Rows per multi-row INSERT of new matches: 4 bound values each. */
const MATCH_ROWS = 250;
const MATCH_TUPLE = "(?, ?, ?, ?, 1)";

// New matches: numbered in the order given (purl order), then fanned out to every holder in SQL.
export async function insertMatches(
  tx: Queryable,
  fresh: readonly DesiredMatch[],
  details: ReadonlyMap<string, number>,
  run: Reconciled,
): Promise<void> {
  if (fresh.length === 0) return;
  const ordered = fresh;
  const first = await allocate(tx, "match", ordered.length);
  const last = first + ordered.length - 1;
  if (last >= MATCH_LIMIT) throw new Error(`more than ${MATCH_LIMIT - 1} component matches`);
  for (let i = 0; i < ordered.length; i += MATCH_ROWS) {
    const batch = ordered.slice(i, i + MATCH_ROWS);
    const params: SqlValue[] = [];
    batch.forEach((m, j) => {
      params.push(first + i + j, m.purl, m.vuln, details.get(m.contentKey)!);
    });
    await tx.run(
      `INSERT INTO finding_matches (match_no, purl, vuln_id, detail_no, live) VALUES ${batch
        .map(() => MATCH_TUPLE)
        .join(", ")}`,
      params,
    );
  }
  // One statement writes every finding of the new matches, in key order: no value is bound per
  // finding. A new match has no findings yet, so nothing can be carried over to them.
  const { changes } = await tx.run(
    `INSERT INTO findings (n, match_no, release_no, status, triage_state, article14_candidate, created_at, updated_at)
      SELECT ${findingKeySql("m.match_no", "rc.release_no")}, m.match_no, rc.release_no, 'open', '${UNTRIAGED.state}',
        d.known_exploited, CAST(? AS BIGINT), CAST(? AS BIGINT)
      FROM finding_matches m JOIN finding_details d ON d.detail_no = m.detail_no
      JOIN release_components rc ON rc.purl = m.purl
      WHERE m.match_no >= ? AND m.match_no <= ? ORDER BY m.match_no, rc.release_no`,
    [run.now, run.now, first, last],
  );
  run.result.created += changes;
  await emit(tx, run, "finding.new", `f.n >= ? AND f.n < ?`, [rangeOf(first)[0], rangeOf(last)[1]]);
}

interface MissingHolder {
  match_no: number;
  release_no: number;
  known_exploited: number;
}

const FINDING_COLUMNS = [
  "n",
  "match_no",
  "release_no",
  "status",
  "triage_state",
  "triage",
  "triage_source",
  "triaged_at",
  "article14_candidate",
  "created_at",
  "updated_at",
];

// Holders of live matches that have no finding yet (within `releaseNos` when given).
export async function fillMissingHolders(
  tx: Queryable,
  matchNos: readonly number[],
  releaseNos: readonly number[] | undefined,
  run: Reconciled,
): Promise<void> {
  if (matchNos.length === 0) return;
  const only = releaseNos === undefined ? "" : `AND rc.release_no IN (${placeholders(releaseNos.length)})`;
  const missing = (
    await selectIn<MissingHolder>(
      tx,
      (list) => `SELECT m.match_no, rc.release_no, d.known_exploited FROM finding_matches m
        JOIN finding_details d ON d.detail_no = m.detail_no JOIN release_components rc ON rc.purl = m.purl
        WHERE m.match_no IN (${list}) ${only}
        AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.n = ${findingKeySql("m.match_no", "rc.release_no")})`,
      matchNos.map(String),
      releaseNos ?? [],
    )
  )
    .map((r) => ({
      match_no: Number(r.match_no),
      release_no: Number(r.release_no),
      known_exploited: Number(r.known_exploited),
    }))
    .sort((a, b) => findingKey(a.match_no, a.release_no) - findingKey(b.match_no, b.release_no));
  if (missing.length === 0) return;
  const carried = await carriedTriage(tx, missing);
  const rows = missing.map((h): SqlValue[] => {
    const prior = carried.get(`${h.match_no}:${h.release_no}`);
    return [
      findingKey(h.match_no, h.release_no),
      h.match_no,
      h.release_no,
      "open",
      prior?.triage.state ?? UNTRIAGED.state,
      prior ? JSON.stringify(prior.triage) : null,
      prior ? `carried-over:${prior.from}` : null,
      prior ? run.now : null,
      h.known_exploited,
      run.now,
      run.now,
    ];
  });
  await insertMany(tx, "findings", FINDING_COLUMNS, rows);
  run.result.created += rows.length;
  for (const c of carried.values())
    run.result.carriedOver.push({
      findingId: findingId(c.prefix, c.matchNo),
      from: c.from,
      triage: c.triage,
    });
  await emitKeys(
    tx,
    run,
    "finding.new",
    missing.map((h) => findingKey(h.match_no, h.release_no)),
  );
}

/**
 * The latest triage decision on the same product and match (vulnerability × purl, i.e. the same
 * component version) from another release, for each missing holder that has one.
 */
async function carriedTriage(
  tx: Queryable,
  missing: readonly MissingHolder[],
): Promise<Map<string, { from: string; triage: Triage; prefix: string; matchNo: number }>> {
  const out = new Map<string, { from: string; triage: Triage; prefix: string; matchNo: number }>();
  const decided = await selectIn<{
    match_no: number;
    legacy_id: string | null;
    id_prefix: string;
    triage: string | null;
    triaged_at: number;
    product_id: string;
  }>(
    tx,
    (
      list,
    ) => `SELECT f.match_no, f.legacy_id, k.id_prefix, f.triage, f.triaged_at, r.product_id FROM findings f
      JOIN release_keys k ON k.release_no = f.release_no JOIN releases r ON r.id = k.release_id
      WHERE f.triaged_at IS NOT NULL AND f.match_no IN (${list})`,
    [...new Set(missing.map((h) => String(h.match_no)))],
  );
  if (decided.length === 0) return out;
  const best = new Map<string, { from: string; triage: Triage; at: number }>();
  for (const r of decided) {
    const key = `${r.product_id}\u0000${r.match_no}`;
    const at = Number(r.triaged_at);
    if ((best.get(key)?.at ?? -1) < at)
      best.set(key, {
        from: r.legacy_id ?? findingId(r.id_prefix, Number(r.match_no)),
        triage: r.triage === null ? UNTRIAGED : (JSON.parse(r.triage) as Triage),
        at,
      });
  }
  const releases = new Map(
    (
      await selectIn<{ release_no: number; id_prefix: string; product_id: string }>(
        tx,
        (list) => `SELECT k.release_no, k.id_prefix, r.product_id FROM release_keys k
          JOIN releases r ON r.id = k.release_id WHERE k.release_no IN (${list})`,
        [...new Set(missing.map((h) => String(h.release_no)))],
      )
    ).map((r) => [Number(r.release_no), r]),
  );
  for (const h of missing) {
    const release = releases.get(h.release_no);
    const prior = release && best.get(`${release.product_id}\u0000${h.match_no}`);
    if (prior)
      out.set(`${h.match_no}:${h.release_no}`, {
        from: prior.from,
        triage: prior.triage,
        prefix: release.id_prefix,
        matchNo: h.match_no,
      });
  }
  return out;
}
