import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { BulwarkError } from "@bulwark/sdk/errors";
import { spkiOf } from "@bulwark/sdk/x509/algorithms";
import { appendAudit } from "../audit/audit-log.ts";
import { deviceById } from "../fleet/devices.ts";
import type { DeviceGroup } from "../fleet/groups.ts";
import type { Queryable } from "../store/store.ts";
import {
  checkCsrPolicy,
  type EnrolmentContext,
  type EnrolmentResult,
  issueDeviceCertificate,
  loadGroup,
  parseAndVerify,
} from "./enrol-steps.ts";
import { type CertificateStatusRow, certificateStatus, serialOf } from "./issue.ts";
import { deviceIdFromUri } from "./profiles.ts";
import { effectivePolicy } from "./provisioning-policy.ts";
import { alreadyRenewed } from "./renewal-replay.ts";

/** Refusal of an early renewal; the route turns `retryAfterSeconds` into Retry-After (RFC 9110 §10.2.3). */
export class RenewalNotDue extends BulwarkError {
  readonly retryAfterSeconds: number;
  constructor(opensAt: number) {
    super("BW_ERR_RENEWAL_NOT_DUE", `the renewal window opens at ${new Date(opensAt).toISOString()}`);
    this.retryAfterSeconds = Math.max(1, Math.ceil((opensAt - Date.now()) / 1000));
  }
}

interface CurrentCertificate {
  leaf: X509Certificate;
  deviceId: string;
  row: CertificateStatusRow;
}

/** Step 1: the TLS peer's certificate, verified by the handshake against our roots (RFC 7030 §3.3.2). */
function presentedCertificate(
  socket: TLSSocket,
  ctx: EnrolmentContext,
): { leaf: X509Certificate; deviceId: string } {
  const peer = socket.getPeerCertificate(false);
  if (!peer?.raw)
    throw new BulwarkError(
      "BW_ERR_CLIENT_CERTIFICATE_REQUIRED",
      "present the current device certificate over mutual TLS",
    );
  if (!socket.authorized) {
    const expired = String(socket.authorizationError) === "CERT_HAS_EXPIRED";
    throw new BulwarkError(
      "BW_ERR_CERTIFICATE_INVALID",
      expired
        ? "the certificate has expired; enrol again with the group's enrolment method"
        : "the certificate was not issued by a trusted CA",
    );
  }
  const leaf = new X509Certificate(peer.raw);
  const deviceCas = ctx.cas().filter((c) => c.role === "device");
  if (leaf.ca || !deviceCas.some((ca) => leaf.checkIssued(ca.x509)))
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the certificate is not a device certificate");
  const ids = (leaf.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((n) => n.startsWith("URI:"))
    .map((n) => deviceIdFromUri(n.slice(4)))
    .filter((id): id is string => id !== undefined);
  if (ids.length !== 1)
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the certificate names no device");
  return { leaf, deviceId: ids[0]! };
}

/** Step 2: the registry agrees — the certificate is ours, valid (not revoked), and the device is active. */
async function registryCheck(
  ctx: EnrolmentContext,
  presented: { leaf: X509Certificate; deviceId: string },
): Promise<CurrentCertificate> {
  const row = await certificateStatus(ctx.store, serialOf(presented.leaf));
  if (!row || row.device_id !== presented.deviceId)
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "unknown certificate");
  if (row.status !== "valid")
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the certificate is revoked");
  const device = await deviceById(ctx.store, presented.deviceId);
  if (device?.status !== "active")
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", `the device is ${device?.status ?? "unknown"}`);
  return { ...presented, row };
}

/** Step 3: the group's renewal window (default: the last third of the certificate's lifetime). */
function checkWindow(group: DeviceGroup, current: CurrentCertificate): void {
  const notBefore = Number(current.row.not_before);
  const notAfter = Number(current.row.not_after);
  const window = effectivePolicy(group.provisioningPolicy).renewalWindowMs ?? (notAfter - notBefore) / 3;
  const opensAt = notAfter - window;
  if (Date.now() < opensAt) throw new RenewalNotDue(opensAt);
}

/**
 * Step 4 (in the transaction): one renewal per device at a time. The conditional write takes the
 * device row's lock (PostgreSQL; SQLite serialises writers anyway), so a concurrent renewal of the
 * same device waits here and then finds the certificate it presents already superseded.
 */
async function lockDevice(tx: Queryable, deviceId: string): Promise<void> {
  const { changes } = await tx.run(`UPDATE devices SET updated_at = ? WHERE id = ? AND status = 'active'`, [
    Date.now(),
    deviceId,
  ]);
  if (changes !== 1) throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the device is no longer active");
}

/**
 * RFC 7030 §4.2.2 simplereenroll: renewal (same key) or rekey (new key) authenticated by the
 * current certificate over mutual TLS. An expired or revoked certificate cannot renew; such a
 * device comes back only through its group's enrolment method. The presented certificate is
 * superseded (RFC 5280 §5.3.1) in the transaction that issues its successor, which records what it
 * renews: a certificate renews once, and a keyCompromise revocation follows the chain. A same-key
 * retry with the superseded certificate gets that successor again (see renewal-replay.ts).
 */
export async function reenrol(
  ctx: EnrolmentContext,
  socket: TLSSocket,
  csrDer: Buffer,
): Promise<EnrolmentResult> {
  const presented = presentedCertificate(socket, ctx);
  // A retry whose first answer was lost gets the certificate already issued for its key.
  const repeated = await alreadyRenewed(ctx, presented, csrDer);
  if (repeated) return repeated;
  const current = await registryCheck(ctx, presented);
  const device = await deviceById(ctx.store, current.deviceId);
  const group = await loadGroup(ctx.store, device!.groupId);
  checkWindow(group, current);
  const csr = parseAndVerify(csrDer);
  checkCsrPolicy(group, csr);
  const actor = { type: "device", id: current.deviceId } as const;
  const previousSerial = current.row.serial;
  const { result, superseded } = await ctx.transact(async (tx, atCommit) => {
    await lockDevice(tx, current.deviceId);
    // Refused with BW_ERR_CONFLICT when a concurrent renewal already superseded it. The CRL is
    // re-signed once for every renewal that commits together, just before the commit.
    const superseded = await ctx.revocation.revokeIn(
      tx,
      { kind: "certificate", serial: previousSerial, scope: "device" },
      "superseded",
      actor,
      atCommit,
    );
    const { certificate, ca } = await issueDeviceCertificate(
      tx,
      ctx,
      group,
      current.deviceId,
      csr,
      previousSerial,
    );
    await appendAudit(tx, {
      actor,
      action: "certificate.renew",
      target: { type: "device", id: current.deviceId },
      outcome: "success",
      details: {
        previousSerial,
        serial: certificate.serial,
        rekey: !spkiOf(current.leaf.publicKey).equals(csr.spki),
      },
    });
    return { result: { deviceId: current.deviceId, groupName: group.name, certificate, ca }, superseded };
  });
  ctx.revocation.announce(superseded);
  return result;
}
