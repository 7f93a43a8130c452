import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, it } from "node:test";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import {
  authenticateSession,
  createSession,
  csrfTokenFor,
  csrfTokenMatches,
  revokeAllSessions,
  SESSION_ABSOLUTE_MS,
  SESSION_IDLE_MS,
} from "./sessions.ts";
import { createUser } from "./users.ts";

describe("sessions", () => {
  let store: SqliteStore;
  let userId: string;
  beforeEach(async () => {
    store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-sessions-")), "a.db"));
    await migrate(store, migrations);
    userId = (
      await createUser(store, { username: "u", password: "x", role: "operator", mustChangePassword: false })
    ).id;
  });

  it("ends after the idle timeout, and activity extends it", async () => {
    const t0 = 1_000_000_000_000;
    const { token } = await createSession(store, { userId, via: "password", now: t0 });
    assert.ok(await authenticateSession(store, token, t0 + SESSION_IDLE_MS - 1000));
    // The previous request refreshed last_seen_at, so this is within the idle window again.
    assert.ok(await authenticateSession(store, token, t0 + 2 * SESSION_IDLE_MS - 2000));
    assert.equal(await authenticateSession(store, token, t0 + 3 * SESSION_IDLE_MS), undefined);
  });

  it("ends at the absolute timeout however active", async () => {
    const t0 = 1_000_000_000_000;
    const { token } = await createSession(store, { userId, via: "password", now: t0 });
    for (let t = t0; t < t0 + SESSION_ABSOLUTE_MS; t += SESSION_IDLE_MS / 2)
      assert.ok(await authenticateSession(store, token, t));
    assert.equal(await authenticateSession(store, token, t0 + SESSION_ABSOLUTE_MS), undefined);
  });

  it("stores only a hash of the token, and revocation ends it", async () => {
    const { token } = await createSession(store, { userId, via: "password" });
    const rows = await store.all<{ token_hash: string }>(`SELECT token_hash FROM sessions`);
    assert.ok(!JSON.stringify(rows).includes(token));
    assert.equal(await revokeAllSessions(store, userId), 1);
    assert.equal(await authenticateSession(store, token), undefined);
  });

  it("CSRF tokens are bound to their session", async () => {
    const a = await createSession(store, { userId, via: "password" });
    const b = await createSession(store, { userId, via: "password" });
    assert.ok(csrfTokenMatches(a.token, csrfTokenFor(a.token)));
    assert.ok(!csrfTokenMatches(a.token, csrfTokenFor(b.token)));
    assert.ok(!csrfTokenMatches(a.token, undefined));
  });
});
