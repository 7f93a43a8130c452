import { randomUUID } from "node:crypto";
import { insertDevice } from "../src/fleet/devices.ts";
import type { Release } from "../src/products/products.ts";
import type { Store } from "../src/store/store.ts";
import { DEFAULT_SPEC } from "../src/updates/deployment-spec.ts";
import { type Deployment, insertDeployment } from "../src/updates/deployments.ts";
import { release } from "./store-fixtures.ts";

/**
 * A release of `product`, one device in a fresh group running that product, and a deployment of
 * the release to that device alone (default spec): the smallest rollout the engine can run.
 */
export async function oneDeviceDeployment(
  store: Store,
  product: string,
): Promise<{ rel: Release; deviceId: string; deployment: Deployment }> {
  const rel = await release(store, product, "1.0.0");
  const groupId = randomUUID();
  await store.run(
    `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, 'g', '{}', ?)`,
    [groupId, Date.now()],
  );
  const deviceId = randomUUID();
  await insertDevice(store, { id: deviceId, groupId, enrolledVia: "test" });
  await store.run(`UPDATE devices SET product = ? WHERE id = ?`, [rel.productId, deviceId]);
  const deployment = await insertDeployment(store, {
    releaseId: rel.id,
    productId: rel.productId,
    target: { devices: [deviceId] },
    spec: DEFAULT_SPEC,
    createdBy: null,
  });
  return { rel, deviceId, deployment };
}
