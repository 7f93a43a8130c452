import assert from "node:assert/strict";
import { it } from "node:test";
import { storeBackends } from "../../test/store-fixtures.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { createApiKey } from "./api-keys.ts";
import { ROLE_PERMISSIONS } from "./permissions.ts";
import { createUser } from "./users.ts";

/**
 * Migration 832: keys that could change the sign-in settings under `policies:write` keep that
 * ability under `auth-settings:manage` (narrowed at use to their owner's grants); others do not
 * gain it.
 */
for (const backend of storeBackends) {
  it(`migration 832 on ${backend.name} gives auth-settings:manage to the keys that held policies:write`, async (ctx) => {
    const t = await backend.open(ctx, 823);
    if (!t) return;
    try {
      const owner = await createUser(t.store, {
        username: "owner",
        password: "unused long password",
        role: "admin",
        mustChangePassword: false,
      });
      const key = (name: string, permissions: string[]) =>
        createApiKey(t.store, {
          ownerId: owner.id,
          name,
          role: "admin",
          permissions: permissions as never,
          expiresAt: null,
        });
      // Written as the previous version did: the admin role's list without the new permission.
      const before = ROLE_PERMISSIONS.admin.filter((p) => p !== "auth-settings:manage");
      const full = await key("full", before);
      const reader = await key("reader", ["devices:read", "policies:read"]);
      await migrate(t.store, migrations);
      const permissions = async (id: string) =>
        JSON.parse(
          (await t.store.get<{ permissions: string }>(`SELECT permissions FROM api_keys WHERE id = ?`, [id]))!
            .permissions,
        ) as string[];
      assert.deepEqual((await permissions(full.info.id)).sort(), [...ROLE_PERMISSIONS.admin].sort());
      assert.deepEqual(await permissions(reader.info.id), ["devices:read", "policies:read"]);
    } finally {
      await t.close();
    }
  });
}
