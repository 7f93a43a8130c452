import { randomBytes } from "node:crypto";
import { toPem } from "../src/pem.ts";
import { generateKeyPair, type KeyAlgorithm, type KeyPair, spkiOf } from "../src/x509/algorithms.ts";
import { buildCertificate, keySigner, spkiPublicKeyBits } from "../src/x509/certificate.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from "../src/x509/extensions.ts";
import { commonNameOnly } from "../src/x509/name.ts";

/** A certificate and its key, built with the SDK's own DER builders (a test PKI, nothing mocked). */
export interface Issued {
  der: Buffer;
  pem: string;
  keys: KeyPair;
  name: Buffer;
  keyId: Buffer;
  algorithm: KeyAlgorithm;
}

export interface IssueOptions {
  cn: string;
  ca: boolean;
  issuer?: Issued;
  algorithm?: KeyAlgorithm;
  eku?: string[];
  dns?: string[];
  validFrom?: Date;
  validTo?: Date;
}

export function issue(o: IssueOptions): Issued {
  const algorithm = o.algorithm ?? "ecdsa-p256";
  const keys = generateKeyPair(algorithm);
  const spki = spkiOf(keys.publicKey);
  const keyId = keyIdentifier(spkiPublicKeyBits(spki));
  const name = commonNameOnly(o.cn);
  const issuer = o.issuer;
  const extensions = [
    basicConstraints(o.ca, o.ca ? 1 : undefined),
    keyUsage(o.ca ? ["keyCertSign", "cRLSign"] : ["digitalSignature"]),
    subjectKeyIdentifier(keyId),
    ...(issuer ? [authorityKeyIdentifier(issuer.keyId)] : []),
    ...(o.eku ? [extKeyUsage(o.eku)] : []),
    ...(o.dns ? [subjectAltName({ dns: o.dns })] : []),
  ];
  const der = buildCertificate(
    {
      serial: randomBytes(16),
      issuerDer: issuer?.name ?? name,
      subjectDer: name,
      notBefore: o.validFrom ?? new Date(Date.now() - 60_000),
      notAfter: o.validTo ?? new Date(Date.now() + 86_400_000),
      spki,
      extensions,
    },
    issuer ? keySigner(issuer.algorithm, issuer.keys.privateKey) : keySigner(algorithm, keys.privateKey),
  );
  return { der, pem: toPem("CERTIFICATE", der), keys, name, keyId, algorithm };
}

export const privateKeyPem = (i: Issued): string =>
  i.keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
