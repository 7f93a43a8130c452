import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import type { DeploymentSpec, DeploymentTarget } from "./deployment-spec.ts";

/** A deployment's life: running, paused (by an operator or after a wave), or ended. */
export type DeploymentStatus = "running" | "paused" | "canceled" | "aborted" | "completed";

export interface Deployment {
  id: string;
  releaseId: string;
  productId: string;
  target: DeploymentTarget;
  spec: DeploymentSpec;
  status: DeploymentStatus;
  statusReason: string | null;
  wave: number;
  createdAt: string;
  startedAt: number;
}

interface Row {
  id: string;
  release_id: string;
  product_id: string;
  target: string;
  spec: string;
  status: DeploymentStatus;
  status_reason: string | null;
  wave: number;
  created_at: number | string;
  started_at: number | string;
}

const toDeployment = (r: Row): Deployment => ({
  id: r.id,
  releaseId: r.release_id,
  productId: r.product_id,
  target: JSON.parse(r.target) as DeploymentTarget,
  spec: JSON.parse(r.spec) as DeploymentSpec,
  status: r.status,
  statusReason: r.status_reason,
  wave: Number(r.wave),
  createdAt: new Date(Number(r.created_at)).toISOString(),
  startedAt: Number(r.started_at),
});

export const isEnded = (status: DeploymentStatus) =>
  status === "canceled" || status === "aborted" || status === "completed";

export async function insertDeployment(
  db: Queryable,
  input: {
    releaseId: string;
    productId: string;
    target: DeploymentTarget;
    spec: DeploymentSpec;
    createdBy: string | null;
  },
): Promise<Deployment> {
  const now = Date.now();
  const id = randomUUID();
  await db.run(
    `INSERT INTO deployments (id, release_id, product_id, target, spec, status, status_reason, wave, created_by,
       created_at, started_at, updated_at) VALUES (?, ?, ?, ?, ?, 'running', NULL, 0, ?, ?, ?, ?)`,
    [
      id,
      input.releaseId,
      input.productId,
      JSON.stringify(input.target),
      JSON.stringify(input.spec),
      input.createdBy,
      now,
      now,
      now,
    ],
  );
  return (await deploymentById(db, id))!;
}

export async function deploymentById(db: Queryable, id: string): Promise<Deployment | undefined> {
  const row = await db.get<Row>(`SELECT * FROM deployments WHERE id = ?`, [id]);
  return row && toDeployment(row);
}

export async function requireDeployment(db: Queryable, id: string): Promise<Deployment> {
  const found = await deploymentById(db, id);
  if (!found) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such deployment");
  return found;
}

export async function listDeployments(db: Queryable, releaseId?: string): Promise<Deployment[]> {
  const rows = releaseId
    ? await db.all<Row>(`SELECT * FROM deployments WHERE release_id = ? ORDER BY created_at DESC`, [
        releaseId,
      ])
    : await db.all<Row>(`SELECT * FROM deployments ORDER BY created_at DESC LIMIT 500`);
  return rows.map(toDeployment);
}

export async function activeDeploymentIds(db: Queryable): Promise<string[]> {
  return (await db.all<{ id: string }>(`SELECT id FROM deployments WHERE status = 'running'`)).map(
    (r) => r.id,
  );
}

/**
 * Moves a deployment from one of `from` to `to`, conditionally (a concurrent change wins once);
 * returns whether it moved. The wave is advanced with it when given.
 */
export async function setDeploymentStatus(
  db: Queryable,
  id: string,
  from: DeploymentStatus[],
  to: DeploymentStatus,
  reason: string | null,
  wave?: number,
): Promise<boolean> {
  const placeholders = from.map(() => "?").join(", ");
  const result = await db.run(
    `UPDATE deployments SET status = ?, status_reason = ?, wave = COALESCE(?, wave), updated_at = ?
     WHERE id = ? AND status IN (${placeholders})`,
    [to, reason, wave ?? null, Date.now(), id, ...from],
  );
  return result.changes === 1;
}

export async function setWave(db: Queryable, id: string, wave: number): Promise<void> {
  await db.run(`UPDATE deployments SET wave = ?, updated_at = ? WHERE id = ? AND wave < ?`, [
    wave,
    Date.now(),
    id,
    wave,
  ]);
}
