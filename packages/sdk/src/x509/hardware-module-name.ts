import {
  children,
  DerError,
  decode,
  expect,
  explicit,
  octetString,
  oid,
  readOid,
  seq,
  Tag,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";

/**
 * RFC 4108 §5 HardwareModuleName, the form IEEE 802.1AR IDevID certificates name their device in:
 * a SubjectAltName otherName of type id-on-hardwareModuleName (1.3.6.1.5.5.7.8.4) whose value is
 * SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }.
 */
export interface HardwareModuleName {
  hwType: string;
  hwSerialNum: Buffer;
}

// RFC 5280 §4.2.1.6: GeneralName otherName [0] IMPLICIT OtherName (IMPLICIT TAGS module).
const OTHER_NAME = 0xa0;
// RFC 5280 §4.2.1.6: OtherName value [0] EXPLICIT ANY DEFINED BY type-id.
const OTHER_NAME_VALUE = 0xa0;

/** The GeneralName (otherName) naming a hardware module, for a SubjectAltName's `otherNames`. */
export function hardwareModuleNameGeneralName(name: HardwareModuleName): Buffer {
  const value = seq(oid(name.hwType), octetString(name.hwSerialNum));
  const otherName = seq(oid(OID.hardwareModuleName), explicit(0, value));
  otherName[0] = OTHER_NAME;
  return otherName;
}

/**
 * The hardware module names a SubjectAltName extension value (GeneralNames) carries, in order;
 * other GeneralName forms and other otherName types are skipped. Throws DerError when the
 * GeneralNames, or an otherName of type hardwareModuleName, is not what RFC 5280 / RFC 4108 define.
 */
export function hardwareModuleNames(subjectAltNameValue: Buffer): HardwareModuleName[] {
  const names: HardwareModuleName[] = [];
  for (const general of children(expect(decode(subjectAltNameValue), Tag.SEQUENCE, "GeneralNames"))) {
    if (general.tag !== OTHER_NAME) continue;
    const [typeId, value, ...rest] = children(general);
    if (readOid(expect(typeId, Tag.OID, "otherName type-id")) !== OID.hardwareModuleName) continue;
    if (rest.length) throw new DerError("otherName: trailing data");
    const wrapped = children(expect(value, OTHER_NAME_VALUE, "otherName value"));
    if (wrapped.length !== 1) throw new DerError("otherName value: expected one HardwareModuleName");
    const fields = children(expect(wrapped[0], Tag.SEQUENCE, "HardwareModuleName"));
    if (fields.length !== 2) throw new DerError("HardwareModuleName: expected hwType and hwSerialNum");
    names.push({
      hwType: readOid(expect(fields[0], Tag.OID, "hwType")),
      hwSerialNum: Buffer.from(expect(fields[1], Tag.OCTET_STRING, "hwSerialNum").value),
    });
  }
  return names;
}
