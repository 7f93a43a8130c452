/** Object identifiers used across Bulwark's PKI, each with the document that assigns it. */
export const OID = {
  // RFC 5480 §2.1.1 / §2.1.1.1
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  // RFC 5758 §3.2
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  // RFC 9881 (FIPS 204 ML-DSA in X.509)
  mlDsa44: "2.16.840.1.101.3.4.3.17",
  mlDsa65: "2.16.840.1.101.3.4.3.18",
  mlDsa87: "2.16.840.1.101.3.4.3.19",
  // RFC 9909 (FIPS 205 SLH-DSA in X.509)
  slhDsaSha2_128s: "2.16.840.1.101.3.4.3.20",
  // RFC 5754 §2 / RFC 3279 §2.2.1 hash algorithms (OCSP CertID)
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  // RFC 5280 §4.1.2.4 attribute types
  commonName: "2.5.4.3",
  serialNumber: "2.5.4.5",
  organizationName: "2.5.4.10",
  organizationalUnitName: "2.5.4.11",
  // RFC 5280 §4.2.1 certificate extensions
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  crlDistributionPoints: "2.5.29.31",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  // RFC 4108 §5: id-on-hardwareModuleName, a SubjectAltName otherName (IEEE 802.1AR IDevID serial)
  hardwareModuleName: "1.3.6.1.5.5.7.8.4",
  // RFC 5280 §4.2.1.12
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  // RFC 5280 §4.2.2.1
  ocsp: "1.3.6.1.5.5.7.48.1",
  caIssuers: "1.3.6.1.5.5.7.48.2",
  // RFC 6960 §4.2.1, §4.4.1, §4.2.2.2.1
  ocspBasic: "1.3.6.1.5.5.7.48.1.1",
  ocspNonce: "1.3.6.1.5.5.7.48.1.2",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  // RFC 2985 §5.4.2 (PKCS#9 extensionRequest), §5.4.1 challengePassword
  extensionRequest: "1.2.840.113549.1.9.14",
  challengePassword: "1.2.840.113549.1.9.7",
  // RFC 5652 §5.1 / §4
  signedData: "1.2.840.113549.1.7.2",
  data: "1.2.840.113549.1.7.1",
} as const;
