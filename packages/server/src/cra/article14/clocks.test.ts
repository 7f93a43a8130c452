import assert from "node:assert/strict";
import { it } from "node:test";
import { addMonth, clocks, type Stage } from "./clocks.ts";
import type { ReportableEvent } from "./events.ts";

/** Each Art. 14 clock starts from the right event (CRA Art. 14(2), (4)); computed from stored times only. */
const H = 3600_000;
const aware = Date.parse("2026-10-01T10:00:00Z");
const event = (over: Partial<ReportableEvent>): ReportableEvent => ({
  id: "e",
  productId: "p",
  kind: "vulnerability",
  vulnerability: "CVE-2026-1",
  title: "t",
  summary: "s",
  trigger: "kev",
  status: "confirmed",
  awareAt: aware,
  correctiveAt: null,
  intermediateRequestedAt: null,
  maliciousSuspected: null,
  details: {},
  findings: [],
  createdAt: aware,
  updatedAt: aware,
  ...over,
});
const by = (list: ReturnType<typeof clocks>, stage: Stage) => list.find((c) => c.stage === stage)!;

it("early warning 24 h and notification 72 h after awareness; overdue once passed", () => {
  const c = clocks(event({}), new Map(), aware + 25 * H);
  assert.equal(by(c, "early-warning").dueAt, "2026-10-02T10:00:00.000Z");
  assert.equal(by(c, "early-warning").state, "overdue");
  assert.equal(by(c, "notification").dueAt, "2026-10-04T10:00:00.000Z");
  assert.equal(by(c, "notification").state, "running");
  assert.equal(by(c, "notification").remainingMs, 47 * H);
});

it("a vulnerability's final report runs 14 days from the corrective measure, not from awareness", () => {
  const waiting = clocks(event({}), new Map(), aware);
  assert.equal(by(waiting, "final").state, "waiting");
  const corrected = Date.parse("2026-10-20T08:00:00Z");
  const running = clocks(event({ correctiveAt: corrected }), new Map(), corrected);
  assert.equal(by(running, "final").dueAt, "2026-11-03T08:00:00.000Z");
});

it("an incident's final report runs one month from the notification's submission", () => {
  const incident = event({ kind: "incident", vulnerability: null });
  assert.equal(
    by(clocks(incident, new Map(), aware), "final").waitingFor,
    "the notification to be submitted",
  );
  const notified = Date.parse("2026-10-03T09:00:00Z");
  const c = clocks(incident, new Map<Stage, number>([["notification", notified]]), notified);
  assert.equal(by(c, "final").dueAt, "2026-11-03T09:00:00.000Z");
  assert.equal(by(c, "notification").state, "submitted");
});

it("an intermediate report is due only on request", () => {
  assert.equal(by(clocks(event({}), new Map(), aware), "intermediate").state, "not-requested");
  assert.equal(
    by(clocks(event({ intermediateRequestedAt: aware + H }), new Map(), aware), "intermediate").state,
    "waiting",
  );
});

it("one month after 31 January is the end of February", () => {
  assert.equal(
    new Date(addMonth(Date.parse("2027-01-31T12:00:00Z"))).toISOString(),
    "2027-02-28T12:00:00.000Z",
  );
  assert.equal(
    new Date(addMonth(Date.parse("2028-01-31T12:00:00Z"))).toISOString(),
    "2028-02-29T12:00:00.000Z",
  );
  assert.equal(
    new Date(addMonth(Date.parse("2026-12-15T00:00:00Z"))).toISOString(),
    "2027-01-15T00:00:00.000Z",
  );
});
