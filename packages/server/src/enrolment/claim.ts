import { randomUUID, X509Certificate } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
import { appendAudit } from "../audit/audit-log.ts";
import { deviceById, insertDevice, newDeviceId } from "../fleet/devices.ts";
import type { DeviceGroup } from "../fleet/groups.ts";
import type { Queryable } from "../store/store.ts";
import {
  checkCsrPolicy,
  type EnrolmentContext,
  type EnrolmentResult,
  issueDeviceCertificate,
  loadGroup,
  parseAndVerify,
  requireMethod,
} from "./enrol-steps.ts";
import { claimHardwareSerial, fillHardwareSerial, type SerialLog } from "./hardware-serial.ts";

export interface ClaimCa {
  id: string;
  name: string;
  groupId: string;
  fingerprint: string;
}

interface ClaimCaRow {
  id: string;
  name: string;
  group_id: string;
  cert_pem: string;
  fingerprint: string;
}

/** Registers a manufacturer's CA whose factory-installed device certificates may be exchanged in `group`. */
export async function registerClaimCa(
  tx: Queryable,
  group: DeviceGroup,
  options: { name: string; certificatePem: string },
): Promise<ClaimCa> {
  const [der, ...rest] = fromPemAll("CERTIFICATE", options.certificatePem);
  if (!der || rest.length)
    throw new BulwarkError("BW_ERR_VALIDATION", "certificatePem must be exactly one PEM certificate");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new BulwarkError("BW_ERR_VALIDATION", "certificatePem cannot be parsed");
  }
  if (!cert.ca)
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      "a manufacturing CA certificate must be a CA (basicConstraints)",
    );
  const fingerprint = cert.fingerprint256.replace(/:/g, "").toLowerCase();
  if (await tx.get(`SELECT id FROM claim_cas WHERE name = ? OR fingerprint = ?`, [options.name, fingerprint]))
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      "this manufacturing CA (name or certificate) is already registered",
    );
  const row = { id: randomUUID(), name: options.name, group_id: group.id, fingerprint };
  await tx.run(
    `INSERT INTO claim_cas (id, name, group_id, cert_pem, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    [row.id, row.name, row.group_id, toPem("CERTIFICATE", der), fingerprint, Date.now()],
  );
  return { id: row.id, name: row.name, groupId: group.id, fingerprint };
}

/** RFC 5280 §6.1 for one link: the claim certificate is an unexpired end entity signed by a registered CA. */
async function findClaimCa(db: Queryable, leaf: X509Certificate): Promise<ClaimCaRow> {
  const now = Date.now();
  if (!leaf.ca && Date.parse(leaf.validFrom) <= now && Date.parse(leaf.validTo) > now) {
    for (const row of await db.all<ClaimCaRow>(`SELECT * FROM claim_cas ORDER BY created_at`)) {
      const ca = new X509Certificate(row.cert_pem);
      if (leaf.checkIssued(ca) && leaf.verify(ca.publicKey)) return row;
    }
  }
  throw new BulwarkError("BW_ERR_CLAIM_CA_UNKNOWN");
}

/**
 * simpleenroll with a claim certificate: the factory certificate, presented over mutual TLS (the
 * handshake proves its key), is exchanged for an operational one. One claim certificate maps to
 * one device; presenting it again re-issues for that device while it is active.
 */
export async function enrolWithClaim(
  ctx: EnrolmentContext,
  claimDer: Buffer,
  csrDer: Buffer,
  log?: SerialLog,
): Promise<EnrolmentResult> {
  const leaf = new X509Certificate(claimDer);
  const claimCa = await findClaimCa(ctx.store, leaf);
  const group = await loadGroup(ctx.store, claimCa.group_id);
  requireMethod(group, "claim");
  const csr = parseAndVerify(csrDer);
  checkCsrPolicy(group, csr);
  const claimFingerprint = leaf.fingerprint256.replace(/:/g, "").toLowerCase();
  const hardwareSerial = claimHardwareSerial(claimDer, log);
  return ctx.transact(async (tx) => {
    const existing = await tx.get<{ device_id: string }>(
      `SELECT device_id FROM device_claims WHERE claim_fingerprint = ?`,
      [claimFingerprint],
    );
    const deviceId = existing?.device_id ?? newDeviceId();
    if (existing) {
      const device = await deviceById(tx, deviceId);
      if (device?.status !== "active")
        throw new BulwarkError("BW_ERR_CONFLICT", `device ${deviceId} is ${device?.status ?? "gone"}`);
      await fillHardwareSerial(tx, deviceId, hardwareSerial);
    } else {
      await insertDevice(tx, {
        id: deviceId,
        groupId: group.id,
        enrolledVia: "claim",
        serial: hardwareSerial,
      });
      await tx.run(
        `INSERT INTO device_claims (claim_fingerprint, claim_ca_id, device_id, created_at) VALUES (?, ?, ?, ?)`,
        [claimFingerprint, claimCa.id, deviceId, Date.now()],
      );
    }
    const { certificate, ca } = await issueDeviceCertificate(tx, ctx, group, deviceId, csr);
    await appendAudit(tx, {
      actor: { type: "anonymous", id: `claim:${claimFingerprint}` },
      action: "device.enrol",
      target: { type: "device", id: deviceId },
      outcome: "success",
      details: {
        method: "claim",
        manufacturingCa: claimCa.name,
        group: group.name,
        hardwareSerial: hardwareSerial ?? null,
        serial: certificate.serial,
      },
    });
    return { deviceId, groupName: group.name, certificate, ca };
  });
}

export async function listClaimCas(db: Queryable): Promise<ClaimCa[]> {
  const rows = await db.all<ClaimCaRow>(`SELECT * FROM claim_cas ORDER BY name`);
  return rows.map((r) => ({ id: r.id, name: r.name, groupId: r.group_id, fingerprint: r.fingerprint }));
}
