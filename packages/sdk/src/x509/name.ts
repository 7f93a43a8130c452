import {
  children,
  decode,
  expect,
  type Node,
  oid,
  readOid,
  readString,
  seq,
  setOf,
  Tag,
  utf8,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";

export interface NameAttribute {
  type: string;
  value: string;
}

// RFC 5280 §4.1.2.4: Name ::= SEQUENCE OF RelativeDistinguishedName, one attribute per RDN here.
export function encodeName(attributes: NameAttribute[]): Buffer {
  return seq(...attributes.map((a) => setOf(seq(oid(a.type), utf8(a.value)))));
}

export function commonNameOnly(cn: string): Buffer {
  return encodeName([{ type: OID.commonName, value: cn }]);
}

export function decodeName(node: Node): NameAttribute[] {
  expect(node, Tag.SEQUENCE, "Name");
  const out: NameAttribute[] = [];
  for (const rdn of children(node)) {
    expect(rdn, Tag.SET, "RelativeDistinguishedName");
    for (const atv of children(rdn)) {
      const [type, value] = children(expect(atv, Tag.SEQUENCE, "AttributeTypeAndValue"));
      out.push({ type: readOid(type!), value: readString(value!) });
    }
  }
  return out;
}

export function decodeNameDer(der: Buffer): NameAttribute[] {
  return decodeName(decode(der));
}

export function commonNameOf(attributes: NameAttribute[]): string | undefined {
  return attributes.find((a) => a.type === OID.commonName)?.value;
}
