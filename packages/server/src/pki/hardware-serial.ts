import { OID } from "@bulwark/sdk/oids";
import { parseCertificate } from "@bulwark/sdk/x509/certificate";
import { decodeNameDer } from "@bulwark/sdk/x509/name";
import type { Queryable } from "../store/store.ts";

/**
 * The hardware serial an enrolment knows, kept on the device record (`devices.serial`): the
 * pre-registered serial number a device authenticated with, or the one its factory (claim)
 * certificate names. A token enrolment knows none; an operator may set it.
 */

/** Printable ASCII, 1–128 characters: the rule an operator's `serial` follows too (fleet/routes.ts). */
const HARDWARE_SERIAL = /^[\x20-\x7e]{1,128}$/;

/**
 * The serial number a factory certificate names: IEEE 802.1AR §8.6 (IDevID subject `serialNumber`
 * attribute, X.520 `id-at-serialNumber` 2.5.4.5). Undefined when it names none, or one that is not
 * printable ASCII of at most 128 characters (then it is not stored: it could not be shown or searched).
 */
export function claimHardwareSerial(certificateDer: Buffer): string | undefined {
  let subject: ReturnType<typeof decodeNameDer>;
  try {
    subject = decodeNameDer(parseCertificate(certificateDer).subjectDer);
  } catch {
    return undefined;
  }
  const serial = subject.find((a) => a.type === OID.serialNumber)?.value;
  return serial !== undefined && HARDWARE_SERIAL.test(serial) ? serial : undefined;
}

/**
 * On a re-enrolment: a device enrolled before its serial was kept gets it now; a serial already
 * on the record (kept at enrolment or set by an operator) is left as it is.
 */
export async function fillHardwareSerial(tx: Queryable, deviceId: string, serial: string | undefined) {
  if (serial === undefined) return;
  await tx.run(`UPDATE devices SET serial = ? WHERE id = ? AND serial IS NULL`, [serial, deviceId]);
}
