/** The re-match part of every software answer (server `MonitorSummary`). */
interface Rematch {
  created: number;
  reopened: number;
  resolved: number;
  updated: number;
  carriedOver: number;
  unexploited: number;
  notifications: number;
}

/** `POST /api/v1/releases/:id/sboms` (server `SbomAttachSummary`), the fields shown. */
export interface SbomSummary {
  sbom: {
    id: string;
    format: string;
    specVersion: string;
    name: string | null;
    components: number;
    minimumElements: { ntiaConforms: boolean; bsiConforms: boolean; gaps: unknown[] };
  };
  rematch: Rematch;
}

/** An OSV bundle or KEV catalogue import (server `AdvisoryImportSummary` / `KevImportSummary`). */
export interface ImportSummary {
  records?: number;
  inserted?: number;
  updated?: number;
  unchanged?: number;
  withdrawn?: number;
  packages?: number;
  catalogVersion?: string;
  entries?: number;
  added?: number;
  removed?: number;
  rematch: Rematch;
}

const yesNo = (b: boolean) => (b ? "yes" : "no");

/** What the import changed in the findings, on one line. */
export function rematchLine(r: Rematch): string {
  const parts = [
    `${r.created} new`,
    `${r.reopened} reopened`,
    `${r.resolved} resolved`,
    `${r.updated} updated`,
    ...(r.carriedOver ? [`${r.carriedOver} triage carried over`] : []),
    ...(r.unexploited ? [`${r.unexploited} no longer known-exploited`] : []),
  ];
  return `findings: ${parts.join(", ")}; ${r.notifications} notification(s) queued`;
}

export function sbomSummary(s: SbomSummary): string {
  const m = s.sbom.minimumElements;
  return [
    `SBOM ${s.sbom.id}: ${s.sbom.format} ${s.sbom.specVersion}${s.sbom.name ? ` "${s.sbom.name}"` : ""}, ${s.sbom.components} component(s)`,
    `minimum elements: NTIA ${yesNo(m.ntiaConforms)}, BSI TR-03183-2 ${yesNo(m.bsiConforms)}${m.gaps.length ? ` (${m.gaps.length} gap(s); --json lists them)` : ""}`,
    rematchLine(s.rematch),
    "",
  ].join("\n");
}

export function importSummary(s: ImportSummary): string {
  const head =
    s.catalogVersion !== undefined
      ? `KEV catalogue ${s.catalogVersion}: ${s.entries} entries (${s.added} added, ${s.removed} removed)`
      : `advisories: ${s.records} record(s): ${s.inserted} new, ${s.updated} updated, ${s.unchanged} unchanged, ${s.withdrawn} withdrawn; ${s.packages} package(s)`;
  return `${head}\n${rematchLine(s.rematch)}\n`;
}
