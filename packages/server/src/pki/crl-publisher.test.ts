import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { verifySignature } from "@bulwark/sdk/x509/algorithms";
import { parseCrl } from "@bulwark/sdk/x509/crl";
import { FileKeyCustody } from "../custody/file-key-custody.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { bootstrapHierarchy, byRole, ensurePostQuantumHierarchy, listCas } from "./ca.ts";
import { CRL_RESIGN_BEFORE_MS, currentCrl, refreshCrls } from "./crl-publisher.ts";

describe("CRL schedule (RFC 5280 §5.1.2.5): re-signed before nextUpdate, per issuing CA", () => {
  it("publishes one CRL per issuing CA, leaves fresh ones alone and re-signs ageing ones with a higher number", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-crl-"));
    const store = new SqliteStore(join(dir, "db"));
    await migrate(store, migrations);
    const custody = new FileKeyCustody({ dir: join(dir, "keys"), masterKey: randomBytes(32) });
    await store.transaction(async (tx) => {
      await bootstrapHierarchy(tx, custody);
      await ensurePostQuantumHierarchy(tx, custody);
    });
    const cas = await listCas(store);
    assert.equal(await refreshCrls(store, custody, cas), 3, "device, service and ML-DSA-65 device CAs");
    assert.equal(await refreshCrls(store, custody, cas), 0);
    const device = byRole(cas, "device");
    await store.run(`UPDATE crls SET next_update = ? WHERE ca_id = ?`, [
      Date.now() + CRL_RESIGN_BEFORE_MS - 1000,
      device.id,
    ]);
    assert.equal(await refreshCrls(store, custody, cas), 1);
    const crl = parseCrl((await currentCrl(store, device.id))!);
    assert.equal(crl.crlNumber, 2n);
    assert.ok(verifySignature(crl.signatureOid, device.x509.publicKey, crl.tbs, crl.signature));
    const pq = cas.find((c) => c.algorithm === "ml-dsa-65" && c.role === "device")!;
    const pqCrl = parseCrl((await currentCrl(store, pq.id))!);
    assert.ok(
      verifySignature(pqCrl.signatureOid, pq.x509.publicKey, pqCrl.tbs, pqCrl.signature),
      "ML-DSA-65 signed CRL",
    );
    await store.close();
  });
});
