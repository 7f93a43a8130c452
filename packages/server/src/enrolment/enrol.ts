import { appendAudit } from "../audit/audit-log.ts";
import { insertDevice, newDeviceId } from "../fleet/devices.ts";
import {
  checkCsrPolicy,
  type EnrolmentContext,
  type EnrolmentResult,
  issueDeviceCertificate,
  loadGroup,
  parseAndVerify,
  requireMethod,
} from "./enrol-steps.ts";
import { consumeToken, findUsableToken } from "./enrolment-tokens.ts";

export type { EnrolmentContext, EnrolmentResult } from "./enrol-steps.ts";

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
  const group = await loadGroup(ctx.store, found.groupId);
  requireMethod(group, "token");
  const csr = parseAndVerify(csrDer);
  checkCsrPolicy(group, csr);
  return ctx.transact(async (tx) => {
    await consumeToken(tx, found.id);
    const deviceId = newDeviceId();
    await insertDevice(tx, { id: deviceId, groupId: group.id, enrolledVia: "token" });
    const { certificate, ca } = await issueDeviceCertificate(tx, ctx, group, deviceId, csr);
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
    return { deviceId, groupName: group.name, certificate, ca };
  });
}
