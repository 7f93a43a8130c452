import type { FastifyRequest } from "fastify";
import type { DeviceGroup, EnrolmentMethod } from "../fleet/groups.ts";
import type { EnrolmentContext, EnrolmentResult } from "./enrol-steps.ts";
import type { SerialLog } from "./hardware-serial.ts";

/**
 * One way a device proves it may enrol, in the spirit of step-ca's provisioners: each recognises
 * its own credentials in an EST request and enrols the CSR with them. `est-routes.ts` asks them in
 * order (`provisioners.ts`); the group's provisioning policy says which methods it accepts.
 */
export interface Provisioner {
  readonly method: EnrolmentMethod;
  /** The request's credentials of this method, bound to what enrols with them; undefined: none here. */
  recognise(request: FastifyRequest): ProvisionerCall | undefined;
}

export interface ProvisionerCall {
  enrol(ctx: EnrolmentContext, csr: Buffer, log: SerialLog): Promise<EnrolmentResult>;
  /** The group the credentials name before any enrolment (RFC 7030 §4.5 csrattrs), when known. */
  group?(ctx: EnrolmentContext): Promise<DeviceGroup | undefined>;
}
