import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
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
import { fillHardwareSerial } from "./hardware-serial.ts";

export const SERIAL_NUMBER = /^[A-Za-z0-9._:-]{1,64}$/;
const hashSecret = (secret: string) => createHash("sha256").update(secret, "utf8").digest();

interface RegisteredRow {
  serial_number: string;
  group_id: string;
  secret_hash: string;
  device_id: string | null;
}

/**
 * Pre-registers a hardware serial number with its bootstrap secret (generated here, or supplied
 * from manufacturing data, at least 16 characters). Only the SHA-256 of the secret is stored.
 */
export async function registerSerial(
  tx: Queryable,
  group: DeviceGroup,
  options: { serialNumber: string; secret?: string },
): Promise<{ serialNumber: string; secret: string }> {
  if (!SERIAL_NUMBER.test(options.serialNumber))
    throw new BulwarkError("BW_ERR_VALIDATION", "serial numbers are 1-64 of A-Z a-z 0-9 . _ : -");
  if (
    await tx.get(`SELECT serial_number FROM registered_devices WHERE serial_number = ?`, [
      options.serialNumber,
    ])
  )
    throw new BulwarkError("BW_ERR_CONFLICT", `serial number ${options.serialNumber} is already registered`);
  const secret = options.secret ?? `bwbs_${randomBytes(32).toString("base64url")}`;
  await tx.run(
    `INSERT INTO registered_devices (serial_number, group_id, secret_hash, created_at) VALUES (?, ?, ?, ?)`,
    [options.serialNumber, group.id, hashSecret(secret).toString("hex"), Date.now()],
  );
  return { serialNumber: options.serialNumber, secret };
}

// A fixed hash to compare against when the serial is unknown, so both refusals cost the same.
const DUMMY = hashSecret("bulwark-unknown-serial");

async function checkSecret(db: Queryable, serialNumber: string, secret: string): Promise<RegisteredRow> {
  const row = SERIAL_NUMBER.test(serialNumber)
    ? await db.get<RegisteredRow>(`SELECT * FROM registered_devices WHERE serial_number = ?`, [serialNumber])
    : undefined;
  const expected = row ? Buffer.from(row.secret_hash, "hex") : DUMMY;
  const matches = timingSafeEqual(expected, hashSecret(secret));
  if (!row || !matches) throw new BulwarkError("BW_ERR_BOOTSTRAP_SECRET_INVALID");
  return row;
}

/**
 * simpleenroll with a pre-registered serial number and its bootstrap secret (HTTP Basic, RFC 7030
 * §3.2.3). The first enrolment creates the device; later ones (a lost or expired certificate)
 * re-issue for the same device, which must still be active.
 */
export async function enrolWithSerial(
  ctx: EnrolmentContext,
  serialNumber: string,
  secret: string,
  csrDer: Buffer,
): Promise<EnrolmentResult> {
  const registered = await checkSecret(ctx.store, serialNumber, secret);
  const group = await loadGroup(ctx.store, registered.group_id);
  requireMethod(group, "registered-serial");
  const csr = parseAndVerify(csrDer);
  checkCsrPolicy(group, csr);
  return ctx.transact(async (tx) => {
    const deviceId = registered.device_id ?? newDeviceId();
    if (registered.device_id) {
      const device = await deviceById(tx, deviceId);
      if (device?.status !== "active")
        throw new BulwarkError("BW_ERR_CONFLICT", `device ${deviceId} is ${device?.status ?? "gone"}`);
      await fillHardwareSerial(tx, deviceId, serialNumber);
    } else {
      const claimed = await tx.run(
        `UPDATE registered_devices SET device_id = ?, enrolled_at = ? WHERE serial_number = ? AND device_id IS NULL`,
        [deviceId, Date.now(), serialNumber],
      );
      if (claimed.changes !== 1)
        throw new BulwarkError("BW_ERR_CONFLICT", "the serial number was enrolled concurrently");
      // The serial the device proved with its bootstrap secret is its hardware serial.
      await insertDevice(tx, {
        id: deviceId,
        groupId: group.id,
        enrolledVia: "registered-serial",
        serial: serialNumber,
      });
    }
    const { certificate, ca } = await issueDeviceCertificate(tx, ctx, group, deviceId, csr);
    await appendAudit(tx, {
      actor: { type: "anonymous", id: `serial:${serialNumber}` },
      action: "device.enrol",
      target: { type: "device", id: deviceId },
      outcome: "success",
      details: {
        method: "registered-serial",
        group: group.name,
        hardwareSerial: serialNumber,
        serial: certificate.serial,
        reenrolment: registered.device_id !== null,
      },
    });
    return { deviceId, groupName: group.name, certificate, ca };
  });
}
