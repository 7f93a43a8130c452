import type { TLSSocket } from "node:tls";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyRequest } from "fastify";
import { groupById } from "../fleet/groups.ts";
import { enrolWithClaim } from "./claim.ts";
import { enrolWithToken } from "./enrol.ts";
import { findUsableToken } from "./enrolment-tokens.ts";
import type { Provisioner, ProvisionerCall } from "./provisioner.ts";
import { enrolWithSerial } from "./registered-devices.ts";

const TOKEN_PREFIX = "bwet_";

// RFC 7030 §3.2.3: HTTP Basic carries an enrolment token, or a serial number + bootstrap secret.
function basicCredentials(request: FastifyRequest): { user: string; password: string } | undefined {
  const header = request.headers.authorization;
  if (!header || !/^Basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "malformed Basic credentials");
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A one-time (or few-times) enrolment token, sent as the Basic password. */
export const tokenProvisioner: Provisioner = {
  method: "token",
  recognise(request) {
    const basic = basicCredentials(request);
    if (!basic?.password.startsWith(TOKEN_PREFIX)) return undefined;
    const token = basic.password;
    return {
      enrol: (ctx, csr) => enrolWithToken(ctx, token, csr),
      group: async (ctx) => groupById(ctx.store, (await findUsableToken(ctx.store, token)).groupId),
    };
  },
};

/** A pre-registered hardware serial number and its bootstrap secret, as Basic user and password. */
export const registeredSerialProvisioner: Provisioner = {
  method: "registered-serial",
  recognise(request) {
    const basic = basicCredentials(request);
    if (!basic || basic.password.startsWith(TOKEN_PREFIX)) return undefined;
    return { enrol: (ctx, csr) => enrolWithSerial(ctx, basic.user, basic.password, csr) };
  },
};

/** RFC 7030 §3.3.2: a manufacturer's claim certificate presented over mutual TLS, with no Authorization. */
export const claimProvisioner: Provisioner = {
  method: "claim",
  recognise(request) {
    if (request.headers.authorization) return undefined;
    const peer = (request.raw.socket as TLSSocket).getPeerCertificate?.(false);
    if (!peer?.raw) return undefined;
    const certificate = peer.raw;
    return { enrol: (ctx, csr, log) => enrolWithClaim(ctx, certificate, csr, log) };
  },
};

/** In the order they are asked: the first that recognises the request enrols it. */
export const PROVISIONERS: readonly Provisioner[] = [
  tokenProvisioner,
  registeredSerialProvisioner,
  claimProvisioner,
];

/** The provisioner call for a request's credentials; a request that carries none is refused. */
export function recognise(
  request: FastifyRequest,
  provisioners: readonly Provisioner[] = PROVISIONERS,
): ProvisionerCall {
  for (const provisioner of provisioners) {
    const call = provisioner.recognise(request);
    if (call) return call;
  }
  throw new BulwarkError(
    "BW_ERR_UNAUTHENTICATED",
    "send the enrolment token (or serial number and bootstrap secret) as HTTP Basic, or a claim certificate over mutual TLS",
  );
}
