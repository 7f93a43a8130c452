import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { CustodySigner } from "../../pki/key-custody.ts";
import type { Queryable } from "../../store/store.ts";
import { appendAwareness } from "./awareness-log.ts";

/**
 * Article 14 reportable events: an actively exploited vulnerability (Art. 14(1)) or a severe
 * incident having an impact on the security of the product (Art. 14(3)). A `candidate` is opened
 * on its own from a KEV listing or an intake report; someone with `cra:report` confirms or
 * dismisses it (with the reason, kept in the awareness log). The clocks run from awareness either way.
 */
export type EventKind = "vulnerability" | "incident";
export type EventStatus = "candidate" | "confirmed" | "dismissed" | "closed";
export type TriggerKind = "kev" | "intake" | "operator";

export interface ReportableEvent {
  id: string;
  productId: string;
  kind: EventKind;
  vulnerability: string | null;
  title: string;
  summary: string;
  trigger: TriggerKind;
  status: EventStatus;
  awareAt: number;
  /** Vulnerability: when a corrective or mitigating measure became available (Art. 14(2)(c)). */
  correctiveAt: number | null;
  intermediateRequestedAt: number | null;
  /** Incident: whether it is suspected to be caused by unlawful or malicious acts (Art. 14(4)(a)). */
  maliciousSuspected: boolean | null;
  details: Record<string, unknown>;
  findings: string[];
  createdAt: number;
  updatedAt: number;
}

interface EventRow {
  id: string;
  product_id: string;
  kind: EventKind;
  vulnerability: string | null;
  title: string;
  summary: string;
  trigger_kind: TriggerKind;
  status: EventStatus;
  aware_at: number;
  corrective_at: number | null;
  intermediate_requested_at: number | null;
  malicious_suspected: number | null;
  details: string;
  created_at: number;
  updated_at: number;
}

const num = (v: number | null) => (v === null ? null : Number(v));

async function toEvent(db: Queryable, r: EventRow): Promise<ReportableEvent> {
  const findings = await db.all<{ finding_id: string }>(
    `SELECT finding_id FROM cra_event_findings WHERE event_id = ? ORDER BY finding_id`,
    [r.id],
  );
  return {
    id: r.id,
    productId: r.product_id,
    kind: r.kind,
    vulnerability: r.vulnerability,
    title: r.title,
    summary: r.summary,
    trigger: r.trigger_kind,
    status: r.status,
    awareAt: Number(r.aware_at),
    correctiveAt: num(r.corrective_at),
    intermediateRequestedAt: num(r.intermediate_requested_at),
    maliciousSuspected: r.malicious_suspected === null ? null : Number(r.malicious_suspected) === 1,
    details: JSON.parse(r.details) as Record<string, unknown>,
    findings: findings.map((f) => f.finding_id),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export interface OpenEvent {
  productId: string;
  kind: EventKind;
  vulnerability: string | null;
  title: string;
  summary: string;
  trigger: TriggerKind;
  status: "candidate" | "confirmed";
  awareAt: number;
  maliciousSuspected?: boolean | null;
  details?: Record<string, unknown>;
}

/**
 * Opens an event (or finds the open one for the same vulnerability of the product), and links the
 * findings. Returns the event and whether it was created. Caller's transaction.
 */
export async function openEvent(
  tx: Queryable,
  signer: CustodySigner,
  input: OpenEvent,
  findings: readonly string[] = [],
): Promise<{ event: ReportableEvent; created: boolean }> {
  const dedupe = input.vulnerability ? `vuln:${input.vulnerability}` : `incident:${randomUUID()}`;
  const existing = await tx.get<{ id: string }>(
    `SELECT id FROM cra_events WHERE product_id = ? AND dedupe_key = ?`,
    [input.productId, dedupe],
  );
  const id = existing?.id ?? randomUUID();
  const now = Date.now();
  if (!existing) {
    await tx.run(
      `INSERT INTO cra_events (id, product_id, kind, dedupe_key, vulnerability, title, summary, trigger_kind, status, aware_at,
        malicious_suspected, details, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        id,
        input.productId,
        input.kind,
        dedupe,
        input.vulnerability,
        input.title,
        input.summary,
        input.trigger,
        input.status,
        input.awareAt,
        input.maliciousSuspected === undefined || input.maliciousSuspected === null
          ? null
          : input.maliciousSuspected
            ? 1
            : 0,
        JSON.stringify(input.details ?? {}),
        now,
        now,
      ],
    );
    await appendAwareness(tx, signer, {
      eventId: id,
      at: input.awareAt,
      kind: "opened",
      trigger: input.trigger,
      details: {
        status: input.status,
        vulnerability: input.vulnerability,
        title: input.title,
        ...(input.details ?? {}),
      },
    });
  }
  for (const f of findings)
    if (
      !(await tx.get(`SELECT 1 AS x FROM cra_event_findings WHERE event_id = ? AND finding_id = ?`, [id, f]))
    )
      await tx.run(`INSERT INTO cra_event_findings (event_id, finding_id, linked_at) VALUES (?, ?, ?)`, [
        id,
        f,
        now,
      ]);
  return { event: (await eventById(tx, id))!, created: !existing };
}

export async function eventById(db: Queryable, id: string): Promise<ReportableEvent | undefined> {
  const row = await db.get<EventRow>(`SELECT * FROM cra_events WHERE id = ?`, [id]);
  return row && toEvent(db, row);
}

export async function listEvents(
  db: Queryable,
  filter: { productId?: string; status?: EventStatus },
): Promise<ReportableEvent[]> {
  const where: string[] = [];
  const params: string[] = [];
  if (filter.productId) {
    where.push("product_id = ?");
    params.push(filter.productId);
  }
  if (filter.status) {
    where.push("status = ?");
    params.push(filter.status);
  }
  const rows = await db.all<EventRow>(
    `SELECT * FROM cra_events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY aware_at DESC, id`,
    params,
  );
  return Promise.all(rows.map((r) => toEvent(db, r)));
}

export type EventChange =
  | { type: "confirm" }
  | { type: "dismiss"; reason: string }
  | { type: "corrective-available"; at: number; measure: string }
  | { type: "intermediate-requested"; at: number; by: string };

/** Applies a change, guarded by the event's current status, with its awareness-log entry. */
export async function changeEvent(
  tx: Queryable,
  signer: CustodySigner,
  id: string,
  change: EventChange,
  actor: string,
): Promise<ReportableEvent> {
  const event = await eventById(tx, id);
  if (!event) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such reportable event");
  const now = Date.now();
  const refuse = (why: string) => {
    throw new BulwarkError("BW_ERR_CONFLICT", why);
  };
  switch (change.type) {
    case "confirm":
    case "dismiss":
      if (event.status !== "candidate") refuse(`the event is ${event.status}, not a candidate`);
      await tx.run(`UPDATE cra_events SET status = ?, updated_at = ? WHERE id = ? AND status = 'candidate'`, [
        change.type === "confirm" ? "confirmed" : "dismissed",
        now,
        id,
      ]);
      break;
    case "corrective-available":
      if (event.kind !== "vulnerability") refuse("only a vulnerability has a corrective-measure clock");
      if (event.correctiveAt !== null) refuse("a corrective measure is already recorded");
      // Kept on the event too: the notification and final report drafts name the measure.
      await tx.run(`UPDATE cra_events SET corrective_at = ?, details = ?, updated_at = ? WHERE id = ?`, [
        change.at,
        JSON.stringify({ ...event.details, correctiveMeasure: change.measure }),
        now,
        id,
      ]);
      break;
    case "intermediate-requested":
      await tx.run(`UPDATE cra_events SET intermediate_requested_at = ?, updated_at = ? WHERE id = ?`, [
        change.at,
        now,
        id,
      ]);
      break;
  }
  await appendAwareness(tx, signer, {
    eventId: id,
    at: now,
    kind: change.type,
    trigger: "operator",
    details: { ...change, actor },
  });
  return (await eventById(tx, id))!;
}
