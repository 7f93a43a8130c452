import { children, decode } from "@bulwark/sdk/der";
import { BulwarkError } from "@bulwark/sdk/errors";
import { OID } from "@bulwark/sdk/oids";
import { CsrError, type ParsedCsr, parseCsr, verifyCsr } from "@bulwark/sdk/x509/csr";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import type { DeviceGroup, EnrolmentMethod } from "../fleet/groups.ts";
import { groupById } from "../fleet/groups.ts";
import type { Queryable, Store } from "../store/store.ts";
import { type CertificateAuthority, deviceCaFor } from "./ca.ts";
import type { Transact } from "./group-commit.ts";
import { type IssuedCertificate, issueCertificate } from "./issue.ts";
import type { KeyCustody } from "./key-custody.ts";
import { deviceExtensions, type PkiUrls } from "./profiles.ts";
import { effectivePolicy } from "./provisioning-policy.ts";
import type { RevocationService } from "./revocation.ts";

/** What every enrolment flow needs. */
export interface EnrolmentContext {
  store: Store;
  custody: KeyCustody;
  cas: () => CertificateAuthority[];
  urls: PkiUrls;
  /** The transaction an enrolment commits in (a GroupCommit shares one fsync among concurrent ones). */
  transact: Transact;
  /** Renewal supersedes the certificate it renews (RFC 5280 §5.3.1 superseded). */
  revocation: RevocationService;
}

export interface EnrolmentResult {
  deviceId: string;
  groupName: string;
  certificate: IssuedCertificate;
  /** The issuing CA, for clients that want the chain. */
  ca: CertificateAuthority;
}

export async function loadGroup(db: Queryable, groupId: string): Promise<DeviceGroup> {
  const group = await groupById(db, groupId);
  if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND");
  return group;
}

/** RFC 2986: parse strictly and check proof of possession (§3: signed by the key it carries). */
export function parseAndVerify(der: Buffer): ParsedCsr {
  let csr: ParsedCsr;
  try {
    csr = parseCsr(der);
  } catch (error) {
    if (error instanceof CsrError)
      throw new BulwarkError("BW_ERR_CSR_MALFORMED", error.message, { cause: error });
    throw error;
  }
  if (!verifyCsr(csr)) throw new BulwarkError("BW_ERR_CSR_SIGNATURE");
  return csr;
}

export function requireMethod(group: DeviceGroup, method: EnrolmentMethod): void {
  const methods = effectivePolicy(group.provisioningPolicy).methods;
  if (!methods.includes(method))
    throw new BulwarkError(
      "BW_ERR_ENROLMENT_METHOD_NOT_ALLOWED",
      `group ${group.name} does not accept ${method} enrolment (allowed: ${methods.join(", ")})`,
    );
}

// Requested extensions a device may ask for; the server decides their content anyway.
const HARMLESS_EXTENSIONS = new Set<string>([
  OID.subjectAltName,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectKeyIdentifier,
]);

function isCaRequest(value: Buffer): boolean {
  // RFC 5280 §4.2.1.9: BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... }
  const [first] = children(decode(value));
  return first?.tag === 0x01 && first.value[0] !== 0;
}

/** The policy checks on a CSR, each refusal with its reason: key algorithm, then requested extensions. */
export function checkCsrPolicy(group: DeviceGroup, csr: ParsedCsr): void {
  const allowed = group.provisioningPolicy.keyAlgorithms;
  if (!csr.keyAlgorithm || !allowed.includes(csr.keyAlgorithm))
    throw new BulwarkError(
      "BW_ERR_CSR_POLICY",
      `key algorithm ${csr.keyAlgorithm ?? "unknown"} is not allowed in group ${group.name} (allowed: ${allowed.join(", ")})`,
    );
  for (const ext of csr.requestedExtensions) {
    if (ext.oid === OID.basicConstraints) {
      let ca = true;
      try {
        ca = isCaRequest(ext.value);
      } catch {}
      if (ca)
        throw new BulwarkError(
          "BW_ERR_CSR_POLICY",
          "a device certificate cannot be a CA (basicConstraints cA=TRUE)",
        );
      continue;
    }
    if (!HARMLESS_EXTENSIONS.has(ext.oid))
      throw new BulwarkError("BW_ERR_CSR_POLICY", `requested extension ${ext.oid} is not allowed`);
  }
}

/** Issues the device certificate from the group's CA with the group's lifetime (inside the caller's transaction). */
export async function issueDeviceCertificate(
  tx: Queryable,
  ctx: EnrolmentContext,
  group: DeviceGroup,
  deviceId: string,
  csr: ParsedCsr,
  renewedFrom?: string,
): Promise<{ certificate: IssuedCertificate; ca: CertificateAuthority }> {
  const policy = effectivePolicy(group.provisioningPolicy);
  const ca = deviceCaFor(ctx.cas(), policy.issuingCa);
  const certificate = await issueCertificate(tx, ctx.custody, {
    ca,
    // The server names the device: subject and SAN come from its id, never from the request.
    subjectDer: commonNameOnly(deviceId),
    subjectText: `CN=${deviceId}`,
    spki: csr.spki,
    extensions: deviceExtensions(deviceId, csr.spki, ca, ctx.urls),
    validityMs: policy.validityMs,
    deviceId,
    ...(renewedFrom ? { renewedFrom } : {}),
  });
  return { certificate, ca };
}
