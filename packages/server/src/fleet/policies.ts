import type { PolicySettings } from "@bulwark/sdk/wire/policy";
import type { Queryable } from "../store/store.ts";

/**
 * Device policies: named, versioned, immutable documents. Publishing a change makes a new
 * version; groups are assigned to a policy by name and their devices get its latest version.
 */
export interface DevicePolicy {
  name: string;
  version: number;
  settings: PolicySettings;
  createdBy: string | null;
  createdAt: string;
}

interface PolicyRow {
  name: string;
  version: number;
  settings: string;
  created_by: string | null;
  created_at: number;
}

const toPolicy = (row: PolicyRow): DevicePolicy => ({
  name: row.name,
  version: Number(row.version),
  settings: JSON.parse(row.settings) as PolicySettings,
  createdBy: row.created_by,
  createdAt: new Date(Number(row.created_at)).toISOString(),
});

export const POLICY_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Appends the next version of a policy (version 1 creates it). */
export async function publishPolicyVersion(
  tx: Queryable,
  name: string,
  settings: PolicySettings,
  createdBy: string | null,
): Promise<DevicePolicy> {
  const latest = await latestPolicy(tx, name);
  const row: PolicyRow = {
    name,
    version: (latest?.version ?? 0) + 1,
    settings: JSON.stringify(settings),
    created_by: createdBy,
    created_at: Date.now(),
  };
  // The (name, version) primary key refuses a concurrent publisher of the same version.
  await tx.run(
    `INSERT INTO device_policies (name, version, settings, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
    [row.name, row.version, row.settings, row.created_by, row.created_at],
  );
  return toPolicy(row);
}

export async function latestPolicy(db: Queryable, name: string): Promise<DevicePolicy | undefined> {
  const row = await db.get<PolicyRow>(
    `SELECT * FROM device_policies WHERE name = ? ORDER BY version DESC LIMIT 1`,
    [name],
  );
  return row && toPolicy(row);
}

export async function policyVersions(db: Queryable, name: string): Promise<DevicePolicy[]> {
  return (
    await db.all<PolicyRow>(`SELECT * FROM device_policies WHERE name = ? ORDER BY version DESC`, [name])
  ).map(toPolicy);
}

/** Every policy at its latest version. */
export async function listPolicies(db: Queryable): Promise<DevicePolicy[]> {
  const rows = await db.all<PolicyRow>(
    `SELECT p.* FROM device_policies p
     JOIN (SELECT name, MAX(version) AS version FROM device_policies GROUP BY name) m
       ON m.name = p.name AND m.version = p.version
     ORDER BY p.name`,
  );
  return rows.map(toPolicy);
}

export async function assignPolicyToGroup(
  tx: Queryable,
  groupId: string,
  policyName: string | null,
): Promise<void> {
  await tx.run(`UPDATE device_groups SET policy_name = ? WHERE id = ?`, [policyName, groupId]);
}

/** The latest version of the policy assigned to a device's group, if any. */
export async function policyForDevice(db: Queryable, deviceId: string): Promise<DevicePolicy | undefined> {
  const row = await db.get<PolicyRow>(
    `SELECT p.* FROM devices d
     JOIN device_groups g ON g.id = d.group_id
     JOIN device_policies p ON p.name = g.policy_name
     WHERE d.id = ? ORDER BY p.version DESC LIMIT 1`,
    [deviceId],
  );
  return row && toPolicy(row);
}

/** Devices whose group uses the policy (to push a new version to). */
export async function devicesUsingPolicy(db: Queryable, name: string): Promise<string[]> {
  const rows = await db.all<{ id: string }>(
    `SELECT d.id FROM devices d JOIN device_groups g ON g.id = d.group_id WHERE g.policy_name = ?`,
    [name],
  );
  return rows.map((r) => r.id);
}

export async function devicesInGroup(db: Queryable, groupId: string): Promise<string[]> {
  return (await db.all<{ id: string }>(`SELECT id FROM devices WHERE group_id = ?`, [groupId])).map(
    (r) => r.id,
  );
}
