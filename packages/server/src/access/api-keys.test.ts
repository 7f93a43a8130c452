import assert from "node:assert/strict";
import { it } from "node:test";
import { storeBackends } from "../../test/store-fixtures.ts";
import {
  authenticateApiKey,
  claimKeyUseRecord,
  createApiKey,
  KEY_USE_RECORD_MS,
  revokeApiKey,
} from "./api-keys.ts";
import { createUser } from "./users.ts";

/** API key use compares stored state and writes it in one statement: no decision on a stale read. */
const owner = (store: Parameters<typeof createUser>[0]) =>
  createUser(store, {
    username: "owner",
    password: "unused long password",
    role: "operator",
    mustChangePassword: false,
  });

// SQLite answers each statement at once, so the interleaving is exact: the request's read comes
// before the revocation, its stamp after.
it("API keys: a key revoked while a request reads it is refused", async (ctx) => {
  const t = await storeBackends[0]!.open(ctx);
  try {
    const { key, info } = await createApiKey(t!.store, {
      ownerId: (await owner(t!.store)).id,
      name: "k",
      role: "operator",
      expiresAt: null,
    });
    assert.ok(await authenticateApiKey(t!.store, key), "positive control: the live key is accepted");
    const [used] = await Promise.all([
      authenticateApiKey(t!.store, key),
      revokeApiKey(t!.store, null, info.id),
    ]);
    assert.equal(used, undefined, "refused although read before the revocation");
    assert.equal(await authenticateApiKey(t!.store, key), undefined);
  } finally {
    await t!.close();
  }
});

for (const backend of storeBackends) {
  it(`API keys on ${backend.name}: of 12 parallel uses one is recorded, then one an hour`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const owner = await createUser(t.store, {
        username: "owner",
        password: "unused long password",
        role: "operator",
        mustChangePassword: false,
      });
      const { info } = await createApiKey(t.store, {
        ownerId: owner.id,
        name: "k",
        role: "operator",
        expiresAt: null,
      });
      const now = Date.now();
      const claims = await Promise.all(
        Array.from({ length: 12 }, () => claimKeyUseRecord(t.store, info.id, now)),
      );
      assert.equal(claims.filter(Boolean).length, 1);
      assert.equal(await claimKeyUseRecord(t.store, info.id, now + KEY_USE_RECORD_MS - 1), false);
      assert.equal(await claimKeyUseRecord(t.store, info.id, now + KEY_USE_RECORD_MS), true, "an hour later");
    } finally {
      await t.close();
    }
  });
}
