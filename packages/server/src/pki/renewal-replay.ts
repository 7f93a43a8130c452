import { X509Certificate } from "node:crypto";
import { toPem } from "@bulwark/sdk/pem";
import { spkiOf } from "@bulwark/sdk/x509/algorithms";
import { appendAudit } from "../audit/audit-log.ts";
import { deviceById } from "../fleet/devices.ts";
import { type EnrolmentContext, type EnrolmentResult, loadGroup, parseAndVerify } from "./enrol-steps.ts";
import { certificateStatus, serialOf } from "./issue.ts";
import { storedDer } from "./stored-certificate.ts";

interface SuccessorRow {
  serial: string;
  ca_id: string;
  fingerprint: string;
  not_before: number;
  not_after: number;
  der: Uint8Array;
}

/**
 * A renewal retried after its answer was lost: the presented certificate was superseded by a
 * renewal, and the request is for the key of the certificate that renewal issued (a same-key
 * renewal, RFC 7030 §4.2.2). The device gets that certificate again instead of being locked out
 * by the supersession; nothing new is issued, so one certificate still renews once. Anything else
 * returns undefined and the request goes through the normal checks (which refuse it).
 */
export async function alreadyRenewed(
  ctx: EnrolmentContext,
  presented: { leaf: X509Certificate; deviceId: string },
  csrDer: Buffer,
): Promise<EnrolmentResult | undefined> {
  const previous = await certificateStatus(ctx.store, serialOf(presented.leaf));
  if (previous?.device_id !== presented.deviceId || previous.revocation_reason !== "superseded")
    return undefined;
  const next = await ctx.store.get<SuccessorRow>(
    `SELECT serial, ca_id, fingerprint, not_before, not_after, der FROM certificates
     WHERE renewed_from = ? AND status = 'valid' AND device_id = ?`,
    [previous.serial, presented.deviceId],
  );
  const device = await deviceById(ctx.store, presented.deviceId);
  const ca = next && ctx.cas().find((c) => c.id === next.ca_id);
  if (!next || !ca || device?.status !== "active") return undefined;
  const der = storedDer(next.der);
  if (!spkiOf(new X509Certificate(der).publicKey).equals(parseAndVerify(csrDer).spki)) return undefined;
  const group = await loadGroup(ctx.store, device.groupId);
  await ctx.store.transaction((tx) =>
    appendAudit(tx, {
      actor: { type: "device", id: presented.deviceId },
      action: "certificate.renew",
      target: { type: "device", id: presented.deviceId },
      outcome: "success",
      details: { previousSerial: previous.serial, serial: next.serial, rekey: false, repeated: true },
    }),
  );
  const certificate = {
    serial: next.serial,
    der,
    get pem() {
      return toPem("CERTIFICATE", der);
    },
    fingerprint: next.fingerprint,
    notBefore: new Date(Number(next.not_before)),
    notAfter: new Date(Number(next.not_after)),
  };
  return { deviceId: presented.deviceId, groupName: group.name, certificate, ca };
}
