import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { it } from "node:test";
import { storeBackends } from "../../test/store-fixtures.ts";
import { createProduct, createRelease } from "../products/products.ts";
import { updateEvidence } from "./update-evidence.ts";

for (const backend of storeBackends)
  it(`update evidence follows the updates domain's state on ${backend.name}`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const db = t.store;
      const { product, security, feature } = await db.transaction(async (tx) => {
        const product = await createProduct(tx, "router");
        return {
          product,
          security: await createRelease(tx, product.id, "1.0.1", "security"),
          feature: await createRelease(tx, product.id, "1.1.0", "feature"),
        };
      });
      const now = Date.now();
      assert.equal(await updateEvidence.repository(db, product.id), null, "no repository yet");

      await db.run(
        `INSERT INTO tuf_repositories (product_id, role_keys, created_at, updated_at) VALUES (?, '{}', ?, ?)`,
        [product.id, now, now],
      );
      assert.equal((await updateEvidence.repository(db, product.id))?.active, false, "nothing published");
      await db.run(`INSERT INTO tuf_files (product_id, name, body, created_at) VALUES (?, ?, ?, ?)`, [
        product.id,
        "timestamp.json",
        Buffer.from("{}"),
        now,
      ]);
      const live = await updateEvidence.repository(db, product.id);
      assert.equal(live?.active, true);
      assert.match(live!.detail, /1 metadata file/);

      const deploy = async (releaseId: string, state: string) => {
        const deployment = randomUUID();
        await db.run(
          `INSERT INTO deployments (id, release_id, product_id, target, spec, status, wave, created_at, started_at, updated_at)
           VALUES (?, ?, ?, '{}', '{}', 'running', 0, ?, ?, ?)`,
          [deployment, releaseId, product.id, now, now, now],
        );
        await db.run(
          `INSERT INTO deployment_jobs (id, deployment_id, device_id, state, wave, deadline_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, 0, ?, ?, ?)`,
          [randomUUID(), deployment, randomUUID(), state, now, now, now],
        );
      };
      // A feature release installed, and a security release not yet installed, deliver no security release.
      await deploy(feature.id, "succeeded");
      await deploy(security.id, "downloading");
      assert.equal(await updateEvidence.deliveredSecurityReleases(db, product.id), 0);
      // Positive control: once one device installed the security release, it counts.
      await deploy(security.id, "succeeded");
      assert.equal(await updateEvidence.deliveredSecurityReleases(db, product.id), 1);
    } finally {
      await t.close();
    }
  });
