import { BulwarkError } from "@bulwark/sdk/errors";
import { KEY_ALGORITHMS, type KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import type { DeviceGroup, EnrolmentMethod, ProvisioningPolicy } from "../fleet/groups.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Queryable } from "../store/store.ts";

export const ENROLMENT_METHODS: readonly EnrolmentMethod[] = ["token", "registered-serial", "claim"];
const DAY_MS = 24 * 3600 * 1000;
/** The shortest lifetime a policy may give (short lifetimes are for tests and demos). */
export const MIN_VALIDITY_DAYS = 1 / 1440;
export const MAX_VALIDITY_DAYS = 3650;

/** A policy with every default applied. */
export interface EffectivePolicy {
  keyAlgorithms: KeyAlgorithm[];
  validityMs: number;
  /** Absent: a third of each certificate's lifetime. */
  renewalWindowMs: number | undefined;
  methods: EnrolmentMethod[];
  issuingCa: string | undefined;
}

export function effectivePolicy(policy: ProvisioningPolicy): EffectivePolicy {
  return {
    keyAlgorithms: policy.keyAlgorithms,
    validityMs: policy.validityDays * DAY_MS,
    renewalWindowMs: policy.renewalWindowDays === undefined ? undefined : policy.renewalWindowDays * DAY_MS,
    methods: policy.methods ?? ["token"],
    issuingCa: policy.issuingCa,
  };
}

/** The JSON schema of a policy at the HTTP edge. */
export const policySchema = {
  type: "object",
  additionalProperties: false,
  required: ["keyAlgorithms", "validityDays"],
  properties: {
    keyAlgorithms: {
      type: "array",
      minItems: 1,
      uniqueItems: true,
      items: { type: "string", enum: [...KEY_ALGORITHMS] },
    },
    validityDays: { type: "number", minimum: MIN_VALIDITY_DAYS, maximum: MAX_VALIDITY_DAYS },
    renewalWindowDays: { type: "number", minimum: 0, maximum: MAX_VALIDITY_DAYS },
    methods: {
      type: "array",
      minItems: 1,
      uniqueItems: true,
      items: { type: "string", enum: [...ENROLMENT_METHODS] },
    },
    issuingCa: { type: "string", minLength: 1, maxLength: 128 },
  },
} as const;

/** Checks what the schema cannot: the window fits the validity, the CA exists and can sign the allowed keys' chain. */
export function validatePolicy(policy: ProvisioningPolicy, cas: CertificateAuthority[]): void {
  if (policy.renewalWindowDays !== undefined && policy.renewalWindowDays > policy.validityDays)
    throw new BulwarkError("BW_ERR_VALIDATION", "renewalWindowDays cannot exceed validityDays");
  if (policy.issuingCa && !cas.some((c) => c.name === policy.issuingCa && c.role === "device" && c.hasKey))
    throw new BulwarkError("BW_ERR_CA_NOT_FOUND", `no device-issuing CA named ${policy.issuingCa}`);
}

export async function setProvisioningPolicy(
  tx: Queryable,
  group: DeviceGroup,
  policy: ProvisioningPolicy,
): Promise<void> {
  await tx.run(`UPDATE device_groups SET provisioning_policy = ? WHERE id = ?`, [
    JSON.stringify(policy),
    group.id,
  ]);
}
