import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { CustodySigner } from "../../pki/key-custody.ts";
import type { Queryable } from "../../store/store.ts";
import { appendAwareness } from "./awareness-log.ts";
import type { Stage } from "./clocks.ts";
import type { ReportableEvent } from "./events.ts";

/**
 * The record of a report submitted through ENISA's Single Reporting Platform (which has no
 * submission API, so the platform records who submitted what, when, to which CSIRT, and the
 * reference the platform gave back). The draft's SHA-256 ties the record to the text submitted.
 */
export interface Submission {
  id: string;
  eventId: string;
  stage: Stage;
  submittedAt: number;
  submittedBy: string;
  csirt: string;
  reference: string;
  draftSha256: string;
}

interface Row {
  id: string;
  event_id: string;
  stage: Stage;
  submitted_at: number;
  submitted_by: string;
  csirt: string;
  reference: string;
  draft_sha256: string;
}

const toSubmission = (r: Row): Submission => ({
  id: r.id,
  eventId: r.event_id,
  stage: r.stage,
  submittedAt: Number(r.submitted_at),
  submittedBy: r.submitted_by,
  csirt: r.csirt,
  reference: r.reference,
  draftSha256: r.draft_sha256,
});

export async function submissionsOf(db: Queryable, eventId: string): Promise<Submission[]> {
  return (
    await db.all<Row>(`SELECT * FROM cra_submissions WHERE event_id = ? ORDER BY submitted_at, id`, [eventId])
  ).map(toSubmission);
}

/** First submission time per stage, for the clocks. */
export function submittedStages(subs: readonly Submission[]): Map<Stage, number> {
  const out = new Map<Stage, number>();
  for (const s of subs) if (!out.has(s.stage)) out.set(s.stage, s.submittedAt);
  return out;
}

export async function recordSubmission(
  tx: Queryable,
  signer: CustodySigner,
  event: ReportableEvent,
  input: Omit<Submission, "id" | "eventId">,
): Promise<Submission> {
  const refuse = (why: string) => {
    throw new BulwarkError("BW_ERR_CONFLICT", why);
  };
  if (event.status === "candidate") refuse("confirm the event before recording a submission");
  if (event.status === "dismissed") refuse("the event was dismissed");
  const done = submittedStages(await submissionsOf(tx, event.id));
  if (input.stage !== "intermediate" && done.has(input.stage))
    refuse(`the ${input.stage} is already recorded`);
  if (input.stage === "final" && event.kind === "vulnerability" && event.correctiveAt === null)
    refuse("Art. 14(2)(c): the final report follows a corrective or mitigating measure; record it first");
  if (input.stage === "intermediate" && event.intermediateRequestedAt === null)
    refuse("no intermediate report was requested");
  const sub: Submission = { ...input, id: randomUUID(), eventId: event.id };
  await tx.run(
    `INSERT INTO cra_submissions (id, event_id, stage, submitted_at, submitted_by, csirt, reference, draft_sha256, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      sub.id,
      sub.eventId,
      sub.stage,
      sub.submittedAt,
      sub.submittedBy,
      sub.csirt,
      sub.reference,
      sub.draftSha256,
      Date.now(),
    ],
  );
  if (input.stage === "final")
    await tx.run(`UPDATE cra_events SET status = 'closed', updated_at = ? WHERE id = ?`, [
      Date.now(),
      event.id,
    ]);
  await appendAwareness(tx, signer, {
    eventId: event.id,
    at: Date.now(),
    kind: "submitted",
    trigger: "operator",
    details: {
      stage: sub.stage,
      csirt: sub.csirt,
      reference: sub.reference,
      draftSha256: sub.draftSha256,
      by: sub.submittedBy,
    },
  });
  return sub;
}
