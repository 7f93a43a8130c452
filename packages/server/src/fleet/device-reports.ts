import { type DeviceReport, parseDeviceReport } from "@bulwark/sdk/wire/reports";
import type { Logger } from "pino";
import { appendAudit } from "../audit/audit-log.ts";
import { recordSecurityEvent } from "../audit/device-events.ts";
import type { Store } from "../store/store.ts";
import { countDroppedReport, type EventLogging, recordConfigAck } from "./devices.ts";

const MAX_REPORT_BYTES = 4 * 1024;

export type ReportOutcome = "stored" | "dropped" | "ignored";

function parse(payload: Buffer): DeviceReport | undefined {
  if (payload.length > MAX_REPORT_BYTES) return undefined;
  try {
    return parseDeviceReport(JSON.parse(payload.toString("utf8")));
  } catch {
    return undefined;
  }
}

/** The logging state change, recorded as an event and in the audit log together (one transaction). */
async function recordLoggingState(
  store: Store,
  deviceId: string,
  report: Extract<DeviceReport, { type: "event-logging" }>,
): Promise<ReportOutcome> {
  const next: EventLogging = report.enabled ? "on" : `off-${report.source}`;
  return store.transaction(async (tx) => {
    const row = await tx.get<{ event_logging: EventLogging }>(
      `SELECT event_logging FROM devices WHERE id = ?`,
      [deviceId],
    );
    if (!row || row.event_logging === next) return "ignored";
    await tx.run(`UPDATE devices SET event_logging = ? WHERE id = ?`, [next, deviceId]);
    // CRA Annex I Part I (2)(l): the opt-out itself is recorded.
    await recordSecurityEvent(tx, {
      deviceId,
      kind: report.enabled ? "logging-opted-in" : "logging-opted-out",
      occurredAt: Date.now(),
      detail: `by ${report.source}`,
    });
    await appendAudit(tx, {
      actor: { type: "device", id: deviceId },
      action: report.enabled ? "device.event-logging.on" : "device.event-logging.off",
      target: { type: "device", id: deviceId },
      outcome: "success",
      details: { source: report.source },
    });
    return "stored";
  });
}

/**
 * Handles what a device published on its `events` topic: validates it (anything else is dropped
 * and counted), stores security events unless the device opted out, records configuration
 * acknowledgements and logging opt-outs.
 */
export async function handleDeviceReport(
  deps: { store: Store; log: Logger },
  deviceId: string,
  payload: Buffer,
): Promise<ReportOutcome> {
  const report = parse(payload);
  if (!report) {
    await countDroppedReport(deps.store, deviceId);
    deps.log.warn({ deviceId, bytes: payload.length }, "device report not valid, dropped");
    return "dropped";
  }
  switch (report.type) {
    case "security-event": {
      const row = await deps.store.get<{ event_logging: EventLogging }>(
        `SELECT event_logging FROM devices WHERE id = ?`,
        [deviceId],
      );
      // An opted-out device sends nothing; if it does anyway, nothing is kept.
      if (row?.event_logging !== "on") {
        await countDroppedReport(deps.store, deviceId);
        return "dropped";
      }
      const stored = await recordSecurityEvent(deps.store, {
        deviceId,
        kind: report.kind,
        occurredAt: Date.parse(report.at),
        detail: report.detail,
        ...(report.id ? { deviceEventId: report.id } : {}),
      });
      // A repeat (its PUBACK was lost) is acknowledged like the first, and not stored twice.
      return stored ? "stored" : "ignored";
    }
    case "config-applied":
      await recordConfigAck(deps.store, deviceId, { policy: report.policy, version: report.version });
      deps.log.info(
        { deviceId, policy: report.policy, version: report.version },
        "configuration acknowledged",
      );
      return "stored";
    case "config-rejected":
      deps.log.warn({ deviceId, reason: report.reason }, "device rejected its configuration");
      return "ignored";
    case "event-logging":
      return recordLoggingState(deps.store, deviceId, report);
  }
}
