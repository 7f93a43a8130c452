import { OID } from "@bulwark/sdk/oids";
import { certificateExtensions, parseCertificate } from "@bulwark/sdk/x509/certificate";
import { type HardwareModuleName, hardwareModuleNames } from "@bulwark/sdk/x509/hardware-module-name";
import { decodeNameDer } from "@bulwark/sdk/x509/name";
import type { Queryable } from "../store/store.ts";

/**
 * The hardware serial an enrolment knows, kept on the device record (`devices.serial`): the
 * pre-registered serial number a device authenticated with, or the one its factory (claim)
 * certificate names. A token enrolment knows none; an operator may set it.
 */

/** Printable ASCII, 1–128 characters: the rule an operator's `serial` follows too (fleet/routes.ts). */
const HARDWARE_SERIAL = /^[\x20-\x7e]{1,128}$/;

/** Where a claim certificate whose SubjectAltName cannot be read is reported (the request's logger). */
export interface SerialLog {
  warn(details: object, message: string): void;
}

/**
 * The serial number a factory certificate names, in IEEE 802.1AR's two forms, the first usable one:
 * 1. the SubjectAltName otherName hardwareModuleName (RFC 4108 §5), its `hwSerialNum` OCTET STRING
 *    as text when printable ASCII of 1–128 characters, else as lowercase hex when that is at most
 *    128 characters (a binary serial of up to 64 octets); a SubjectAltName that cannot be decoded
 *    is logged at warn and skipped, never failing the enrolment;
 * 2. the subject `serialNumber` attribute (IEEE 802.1AR §8.6, X.520 2.5.4.5), printable ASCII of
 *    1–128 characters.
 * Undefined when neither gives one (then none is stored: it could not be shown or searched).
 */
export function claimHardwareSerial(certificateDer: Buffer, log?: SerialLog): string | undefined {
  return altNameSerial(certificateDer, log) ?? subjectSerial(certificateDer);
}

// RFC 4108 §5: the first hardwareModuleName of the SubjectAltName (RFC 5280 §4.2.1.6) names the module.
function altNameSerial(certificateDer: Buffer, log: SerialLog | undefined): string | undefined {
  let names: HardwareModuleName[];
  try {
    const altName = certificateExtensions(certificateDer).find((e) => e.oid === OID.subjectAltName);
    if (!altName) return undefined;
    names = hardwareModuleNames(altName.value);
  } catch (error) {
    log?.warn(
      { reason: error instanceof Error ? error.message : String(error) },
      "claim certificate subjectAltName is malformed: no hardware serial read from it",
    );
    return undefined;
  }
  const serial = names[0]?.hwSerialNum;
  if (serial === undefined) return undefined;
  const text = serial.toString("latin1");
  if (HARDWARE_SERIAL.test(text)) return text;
  const hex = serial.toString("hex");
  return hex.length > 0 && hex.length <= 128 ? hex : undefined;
}

// IEEE 802.1AR §8.6: the IDevID subject `serialNumber` attribute (X.520 `id-at-serialNumber`).
function subjectSerial(certificateDer: Buffer): string | undefined {
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
