import { createHash } from "node:crypto";
import { findingById } from "../../software/findings.ts";
import type { Queryable } from "../../store/store.ts";
import { productById, releaseById } from "../product-source.ts";
import { coordinatorMemberState, profileOf } from "../profile.ts";
import { supportEnd } from "../support.ts";
import type { Stage } from "./clocks.ts";
import type { ReportableEvent } from "./events.ts";

/**
 * Drafts of the Article 14 reports, shaped after ENISA's Single Reporting Platform form (no API:
 * the JSON is stamped with the field-list version it follows, and a text rendering is ready to
 * paste). Fields: Art. 14(2) for vulnerabilities, Art. 14(4) for incidents.
 */
export const FIELD_LIST_VERSION = "ENISA SRP field glossary v1.3 (2026-09-25)";

export interface Draft {
  fieldListVersion: string;
  stage: Stage;
  eventId: string;
  fields: Record<string, unknown>;
  /** Required fields the platform could not fill (the product's CRA data is missing, …). */
  missing: string[];
  text: string;
  sha256: string;
}

async function affectedVersions(db: Queryable, event: ReportableEvent): Promise<string[]> {
  const versions = new Set<string>();
  for (const id of event.findings) {
    const f = await findingById(db, id);
    const r = f && (await releaseById(db, f.releaseId));
    if (r) versions.add(r.version);
  }
  return [...versions].sort();
}

const utc = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function buildDraft(db: Queryable, event: ReportableEvent, stage: Stage): Promise<Draft> {
  const product = await productById(db, event.productId);
  const profile = await profileOf(db, event.productId);
  const versions = await affectedVersions(db, event);
  const latest = versions.at(-1);
  const common: Record<string, unknown> = {
    reportType: event.kind === "vulnerability" ? "actively exploited vulnerability" : "severe incident",
    title: event.title,
    summary: event.summary,
    manufacturer: profile?.manufacturer ?? null,
    memberStates: profile?.memberStates ?? null,
    coordinatorCsirtMemberState: profile ? coordinatorMemberState(profile) : null,
    productName: product?.name ?? null,
    productVersions: versions,
    awarenessTimeUtc: utc(event.awareAt),
    vulnerabilityId: event.vulnerability,
    supportEndDate: latest ? utc(await supportEnd(db, event.productId, latest)) : null,
  };
  // Art. 14(4)(a): for an incident, whether unlawful or malicious acts are suspected.
  if (event.kind === "incident") common.maliciousActSuspected = event.maliciousSuspected;
  const byStage: Record<Stage, Record<string, unknown>> = {
    "early-warning": {},
    // Art. 14(2)(b) / (4)(b): general information, nature of the exploit, measures, sensitivity.
    notification: {
      productDescription: profile?.intendedPurpose ?? null,
      natureOfExploit: event.summary,
      correctiveMeasuresTaken:
        event.correctiveAt === null ? null : (event.details.correctiveMeasure ?? "update available"),
      mitigatingMeasuresForUsers: event.details.mitigation ?? null,
      sensitivity: event.details.sensitivity ?? "TLP:AMBER",
    },
    intermediate: { statusUpdate: event.details.statusUpdate ?? null },
    // Art. 14(2)(c) / (4)(c): severity and impact, malicious actor, the security update / root cause.
    final: {
      severityAndImpact: event.details.severity ?? null,
      maliciousActor: event.details.maliciousActor ?? null,
      securityUpdate: event.details.correctiveMeasure ?? null,
      correctiveAvailableAtUtc: utc(event.correctiveAt),
      ...(event.kind === "incident" ? { rootCause: event.details.rootCause ?? null } : {}),
    },
  };
  const fields = { ...common, ...byStage[stage] };
  const missing = Object.entries(fields)
    .filter(([, v]) => v === null || (Array.isArray(v) && v.length === 0))
    .map(([k]) => k);
  const text = [
    `CRA Article 14 report: ${stage} (${FIELD_LIST_VERSION})`,
    ...Object.entries(fields).map(
      ([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`,
    ),
  ].join("\n");
  const body = { fieldListVersion: FIELD_LIST_VERSION, stage, eventId: event.id, fields, missing, text };
  return { ...body, sha256: createHash("sha256").update(JSON.stringify(body)).digest("hex") };
}
