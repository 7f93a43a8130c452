import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { FileKeyCustody } from "../../packages/server/src/custody/file-key-custody.ts";
import { loadMasterKey } from "../../packages/server/src/custody/master-key.ts";
import { generateSignerPair } from "../../packages/server/src/updates/tuf-keys.ts";
import { startTestServer } from "../helpers.ts";

/**
 * docs/updates.md "The TUF repository per product": TUF custody keys a stopped process left
 * unnamed (between a commit and its key destruction) are destroyed when the server starts again;
 * the keys the repository names stay.
 */
it("the server's start destroys TUF custody keys no repository names, and keeps the named ones", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-tuf-sweep-start-"));
  let server = await startTestServer({ dir });
  let leftover: string[];
  let named: string[];
  const keyFile = (id: string) => join(dir, "data", "keys", `${id}.key.json`);
  try {
    const productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Swept" })).body
      .id;
    const rotated = await server.api("POST", `/api/v1/products/${productId}/tuf/rotate`, {
      role: "timestamp",
    });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const row = await server.store.get<{ role_keys: string }>(
      `SELECT role_keys FROM tuf_repositories WHERE product_id = ?`,
      [productId],
    );
    const keys = JSON.parse(row!.role_keys) as Record<string, string[]>;
    named = [...keys.root!, ...keys.targets!, ...keys.snapshot!, ...keys.timestamp!];
    // What a process stopped after a rotation's commit leaves: a key file no row names.
    const data = join(dir, "data");
    const custody = new FileKeyCustody({
      dir: join(data, "keys"),
      masterKey: loadMasterKey(data, undefined).key,
    });
    leftover = await generateSignerPair(custody, `tuf:${productId}:timestamp:v2`);
  } finally {
    await server.close();
  }
  for (const id of leftover) assert.ok(existsSync(keyFile(id)), "left behind while the server was down");

  server = await startTestServer({ dir });
  try {
    for (const id of leftover) assert.equal(existsSync(keyFile(id)), false, "destroyed at start");
    for (const id of named) assert.ok(existsSync(keyFile(id)), "a named key stays");
    const audit = await server.store.all<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'tuf.keys.sweep'`,
    );
    assert.equal(audit.length, 1);
    for (const id of leftover) assert.ok(audit[0]!.details.includes(id), "audited by id");
  } finally {
    await server.close();
  }
});
