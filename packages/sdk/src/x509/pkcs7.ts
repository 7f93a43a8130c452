import {
  children,
  decode,
  expect,
  explicit,
  implicitConstructed,
  integer,
  oid,
  readOid,
  seq,
  setOf,
  Tag,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";

/**
 * RFC 7030 §4.1.3 / RFC 5652 §5: a degenerate "certs-only" SignedData carrying certificates and
 * no signers. Certificates keep the caller's order (leaf first), which EST clients rely on.
 */
export function certsOnly(certificates: Buffer[]): Buffer {
  const signedData = seq(
    integer(1),
    setOf(),
    seq(oid(OID.data)),
    implicitConstructed(0, ...certificates),
    setOf(),
  );
  return seq(oid(OID.signedData), explicit(0, signedData));
}

/** The certificates of a certs-only (or any) SignedData ContentInfo, in encoded order. */
export function parseCertsOnly(der: Buffer): Buffer[] {
  const [typeNode, contentNode] = children(expect(decode(der), Tag.SEQUENCE, "ContentInfo"));
  if (readOid(typeNode!) !== OID.signedData) throw new Error("ContentInfo is not SignedData");
  const [signedData] = children(expect(contentNode, 0xa0, "content"));
  const fields = children(expect(signedData, Tag.SEQUENCE, "SignedData"));
  const certificates = fields.find((f) => f.tag === 0xa0);
  return certificates ? children(certificates).map((c) => Buffer.from(c.bytes)) : [];
}
