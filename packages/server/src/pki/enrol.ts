import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { CsrError, type ParsedCsr, parseCsr, verifyCsr } from "@bulwark/sdk/x509/csr";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { appendAudit } from "../audit/audit-log.ts";
import { insertDevice } from "../fleet/devices.ts";
import { type DeviceGroup, groupById } from "../fleet/groups.ts";
import type { Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { consumeToken, findUsableToken } from "./enrolment-tokens.ts";
import { type IssuedCertificate, issueCertificate } from "./issue.ts";
import type { KeyCustody } from "./key-custody.ts";
import { deviceExtensions } from "./profiles.ts";

export interface EnrolmentContext {
  store: Store;
  custody: KeyCustody;
  deviceCa: () => CertificateAuthority;
}

export interface EnrolmentResult {
  deviceId: string;
  groupName: string;
  certificate: IssuedCertificate;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * RFC 7030 §4.2.1 simpleenroll with a one-time token, as an ordered list of steps. Nothing is
 * written until every check has passed; the token use, device and certificate commit together.
 */
export async function enrolWithToken(
  ctx: EnrolmentContext,
  token: string,
  csrDer: Buffer,
): Promise<EnrolmentResult> {
  const found = await findUsableToken(ctx.store, token);
  const group = await loadGroup(ctx, found.groupId);
  const csr = parseAndVerify(csrDer);
  checkPolicy(group, csr);
  return ctx.store.transaction(async (tx) => {
    await consumeToken(tx, found.id);
    const deviceId = randomUUID();
    await insertDevice(tx, { id: deviceId, groupId: group.id, enrolledVia: "token" });
    const ca = ctx.deviceCa();
    const certificate = await issueCertificate(tx, ctx.custody, {
      ca,
      // The server names the device: subject and SAN come from its id, never from the request.
      subjectDer: commonNameOnly(deviceId),
      subjectText: `CN=${deviceId}`,
      spki: csr.spki,
      extensions: deviceExtensions(deviceId, csr.spki, ca.keyIdentifier),
      validityMs: group.provisioningPolicy.validityDays * DAY_MS,
      deviceId,
    });
    await appendAudit(tx, {
      actor: { type: "anonymous", id: `enrolment-token:${found.id}` },
      action: "device.enrol",
      target: { type: "device", id: deviceId },
      outcome: "success",
      details: {
        method: "token",
        group: group.name,
        serial: certificate.serial,
        keyAlgorithm: csr.keyAlgorithm,
      },
    });
    return { deviceId, groupName: group.name, certificate };
  });
}

async function loadGroup(ctx: EnrolmentContext, groupId: string): Promise<DeviceGroup> {
  const group = await groupById(ctx.store, groupId);
  if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND");
  return group;
}

function parseAndVerify(der: Buffer): ParsedCsr {
  let csr: ParsedCsr;
  try {
    csr = parseCsr(der);
  } catch (error) {
    if (error instanceof CsrError)
      throw new BulwarkError("BW_ERR_CSR_MALFORMED", error.message, { cause: error });
    throw error;
  }
  // RFC 2986 §3: proof of possession of the private key.
  if (!verifyCsr(csr)) throw new BulwarkError("BW_ERR_CSR_SIGNATURE");
  return csr;
}

function checkPolicy(group: DeviceGroup, csr: ParsedCsr): void {
  const allowed = group.provisioningPolicy.keyAlgorithms;
  if (!csr.keyAlgorithm || !allowed.includes(csr.keyAlgorithm))
    throw new BulwarkError(
      "BW_ERR_CSR_POLICY",
      `key algorithm ${csr.keyAlgorithm ?? "unknown"} is not allowed in group ${group.name} (allowed: ${allowed.join(", ")})`,
    );
}
