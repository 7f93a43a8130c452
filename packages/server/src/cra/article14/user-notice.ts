import { findingById } from "../../software/findings.ts";
import type { Queryable } from "../../store/store.ts";
import { listAdvisories } from "../advisory-store.ts";
import { csafFileName, WHITE_DIRECTORY, yearOf } from "../csaf/naming.ts";
import { productById, releaseById } from "../product-source.ts";
import type { ReportableEvent } from "./events.ts";

/**
 * CRA Art. 14(8): after becoming aware, inform the impacted users of the vulnerability or incident
 * and of the risk-mitigation and corrective measures, where appropriate in a structured,
 * machine-readable format. This prepares the notice: the devices running an affected version
 * (their reported firmware version), the CSAF advisories covering it, and the text. In-band
 * delivery needs a `notice` device command the agent does not have yet.
 */
export async function userNotice(db: Queryable, event: ReportableEvent, publicUrl: string) {
  const product = await productById(db, event.productId);
  const versions = new Set<string>();
  for (const id of event.findings) {
    const f = await findingById(db, id);
    const r = f && (await releaseById(db, f.releaseId));
    if (r) versions.add(r.version);
  }
  const devices = await db.all<{ id: string; metadata: string }>(
    `SELECT d.id, d.metadata FROM devices d
     WHERE (d.group_id IN (SELECT group_id FROM cra_product_groups WHERE product_id = ?) OR d.product = ? OR d.product = ?)
       AND d.status <> 'decommissioned'`,
    [event.productId, event.productId, product?.name ?? ""],
  );
  const affected = devices
    .filter((d) =>
      versions.has((JSON.parse(d.metadata) as { firmwareVersion?: string }).firmwareVersion ?? ""),
    )
    .map((d) => d.id);
  const advisories = (await listAdvisories(db, event.productId))
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
  const measure =
    typeof event.details.correctiveMeasure === "string" ? event.details.correctiveMeasure : null;
  return {
    eventId: event.id,
    affectedVersions: [...versions].sort(),
    devices: affected,
    devicesWithoutReportedVersion: devices.filter(
      (d) => !(JSON.parse(d.metadata) as { firmwareVersion?: string }).firmwareVersion,
    ).length,
    csafAdvisories: advisories,
    text: `${event.title}. ${event.summary}${measure ? ` Corrective measure: ${measure}.` : ""}${advisories.length ? ` Advisory: ${advisories.join(", ")}` : ""}`,
    delivery: "prepared; in-band delivery to devices is not available yet (no agent notice command)",
  };
}
