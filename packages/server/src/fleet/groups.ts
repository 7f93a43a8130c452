import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import type { Queryable } from "../store/store.ts";

/** How a device proves it may join a group (see pki/provisioning-policy.ts). */
export type EnrolmentMethod = "token" | "registered-serial" | "claim";

/** Who may enrol into a group and what they get. Absent optional fields take the defaults in pki/provisioning-policy.ts. */
export interface ProvisioningPolicy {
  keyAlgorithms: KeyAlgorithm[];
  /** Certificate lifetime; fractions allowed (at least one minute). */
  validityDays: number;
  /** `simplereenroll` is accepted this long before notAfter (default: a third of the lifetime). */
  renewalWindowDays?: number;
  /** Enrolment methods accepted for new devices (default: token only). */
  methods?: EnrolmentMethod[];
  /** Name of the device-issuing CA for this group (default: the ECDSA device issuing CA). */
  issuingCa?: string;
}

export const DEFAULT_PROVISIONING_POLICY: ProvisioningPolicy = {
  keyAlgorithms: ["ecdsa-p256", "ecdsa-p384"],
  validityDays: 365,
};

export interface DeviceGroup {
  id: string;
  name: string;
  provisioningPolicy: ProvisioningPolicy;
  /** The device policy (by name, latest version) its devices are configured with. */
  policyName: string | null;
  createdAt: number;
}

interface GroupRow {
  id: string;
  name: string;
  provisioning_policy: string;
  policy_name?: string | null;
  created_at: number;
}

const toGroup = (row: GroupRow): DeviceGroup => ({
  id: row.id,
  name: row.name,
  provisioningPolicy: JSON.parse(row.provisioning_policy) as ProvisioningPolicy,
  policyName: row.policy_name ?? null,
  createdAt: Number(row.created_at),
});

export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export async function createGroup(
  db: Queryable,
  name: string,
  policy = DEFAULT_PROVISIONING_POLICY,
): Promise<DeviceGroup> {
  if (!GROUP_NAME.test(name))
    throw new BulwarkError("BW_ERR_VALIDATION", "group names are 1-63 of a-z 0-9 . _ -");
  if (await groupByName(db, name)) throw new BulwarkError("BW_ERR_CONFLICT", `group ${name} already exists`);
  const row: GroupRow = {
    id: randomUUID(),
    name,
    provisioning_policy: JSON.stringify(policy),
    created_at: Date.now(),
  };
  await db.run(`INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, ?, ?, ?)`, [
    row.id,
    row.name,
    row.provisioning_policy,
    row.created_at,
  ]);
  return toGroup(row);
}

export async function groupByName(db: Queryable, name: string): Promise<DeviceGroup | undefined> {
  const row = await db.get<GroupRow>(`SELECT * FROM device_groups WHERE name = ?`, [name]);
  return row && toGroup(row);
}

export async function groupById(db: Queryable, id: string): Promise<DeviceGroup | undefined> {
  const row = await db.get<GroupRow>(`SELECT * FROM device_groups WHERE id = ?`, [id]);
  return row && toGroup(row);
}

export async function listGroups(db: Queryable): Promise<DeviceGroup[]> {
  return (await db.all<GroupRow>(`SELECT * FROM device_groups ORDER BY name`)).map(toGroup);
}
