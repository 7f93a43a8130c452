import { findingById } from "../../software/findings.ts";
import type { Queryable } from "../../store/store.ts";
import { listAdvisories } from "../advisory-store.ts";
import { csafFileName, WHITE_DIRECTORY, yearOf } from "../csaf/naming.ts";
import { productById, releaseById } from "../product-source.ts";
import type { ReportableEvent } from "./events.ts";

/** The versions the event's findings are in (the releases whose SBOM matched). */
export async function affectedVersionsOf(db: Queryable, event: ReportableEvent): Promise<string[]> {
  const versions = new Set<string>();
  for (const id of event.findings) {
    const f = await findingById(db, id);
    const r = f && (await releaseById(db, f.releaseId));
    if (r) versions.add(r.version);
  }
  return [...versions].sort();
}

/**
 * The product's devices (its linked groups, or devices naming it) that are not decommissioned, with
 * the version each reported (`firmwareVersion` of its metadata, which the agent's updates module
 * keeps to the installed firmware).
 */
export async function productDevices(db: Queryable, productId: string) {
  const product = await productById(db, productId);
  const rows = await db.all<{ id: string; metadata: string }>(
    `SELECT d.id, d.metadata FROM devices d
     WHERE (d.group_id IN (SELECT group_id FROM cra_product_groups WHERE product_id = ?) OR d.product = ? OR d.product = ?)
       AND d.status <> 'decommissioned' ORDER BY d.id`,
    [productId, productId, product?.name ?? ""],
  );
  return rows.map((d) => ({
    id: d.id,
    version: (JSON.parse(d.metadata) as { firmwareVersion?: string }).firmwareVersion ?? null,
  }));
}

/** The public URLs of the CSAF advisories naming the event's vulnerability. */
export async function advisoryUrlsOf(db: Queryable, event: ReportableEvent, publicUrl: string) {
  return (await listAdvisories(db, event.productId))
    .filter(
      (a) =>
        event.vulnerability !== null &&
        (JSON.parse(a.vulnerabilities) as string[]).includes(event.vulnerability),
    )
    .map(
      (a) =>
        new URL(
          `${WHITE_DIRECTORY}${yearOf(Number(a.published_at))}/${csafFileName(a.tracking_id)}`,
          publicUrl,
        ).href,
    );
}

export const correctiveMeasureOf = (event: ReportableEvent): string | null =>
  typeof event.details.correctiveMeasure === "string" ? event.details.correctiveMeasure : null;

/**
 * CRA Art. 14(8): after becoming aware, inform the impacted users of the vulnerability or incident
 * and of the risk-mitigation and corrective measures, where appropriate in a structured,
 * machine-readable format. This is the preview: the devices running an affected version, the CSAF
 * advisories covering it, and the text. `notices.ts` sends it (a `user-notice` device command).
 */
export async function userNotice(db: Queryable, event: ReportableEvent, publicUrl: string) {
  const versions = await affectedVersionsOf(db, event);
  const devices = await productDevices(db, event.productId);
  const advisories = await advisoryUrlsOf(db, event, publicUrl);
  const measure = correctiveMeasureOf(event);
  return {
    eventId: event.id,
    affectedVersions: versions,
    devices: devices.filter((d) => d.version !== null && versions.includes(d.version)).map((d) => d.id),
    devicesWithoutReportedVersion: devices.filter((d) => d.version === null).length,
    csafAdvisories: advisories,
    text: noticeText(event, measure, advisories),
    delivery: "preview; POST …/user-notices sends it to the devices in-band",
  };
}

export const noticeText = (event: ReportableEvent, measure: string | null, advisories: readonly string[]) =>
  `${event.title}. ${event.summary}${measure ? ` Corrective measure: ${measure}.` : ""}${advisories.length ? ` Advisory: ${advisories.join(", ")}` : ""}`;
