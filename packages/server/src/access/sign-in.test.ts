import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, it } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { MAX_FAILURES, recordFailure } from "./lockout.ts";
import { SecretBox } from "./secret-box.ts";
import { signInWithPassword } from "./sign-in.ts";
import { createUser } from "./users.ts";

const PASSWORD = "the right long passphrase";
const META = { remoteAddress: "192.0.2.1" };

describe("password sign-in and the lockout", () => {
  let store: SqliteStore;
  const box = new SecretBox(randomBytes(32));
  beforeEach(async () => {
    store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-sign-in-")), "a.db"));
    await migrate(store, migrations);
    await createUser(store, {
      username: "victim",
      password: PASSWORD,
      role: "auditor",
      mustChangePassword: false,
    });
  });

  const sessions = async () =>
    Number((await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM sessions`))!.n);

  it("the right password is refused when parallel guesses locked the account while it was being checked", async () => {
    // The lock check runs at once; the password check (argon2id) completes on the thread pool.
    const signingIn = signInWithPassword(store, box, { username: "victim", password: PASSWORD }, META);
    // SQLite answers synchronously, so these failures are all recorded in this same turn of the
    // event loop: after the first lock check, before the password check can come back.
    const locks = await Promise.all(
      Array.from({ length: MAX_FAILURES }, () => store.transaction((tx) => recordFailure(tx, "victim"))),
    );
    assert.equal(locks.filter(Boolean).length, 1, "the guesses locked the account");
    await assert.rejects(
      signingIn,
      (e: unknown) => e instanceof BulwarkError && e.code === "BW_ERR_ACCOUNT_LOCKED",
    );
    assert.equal(await sessions(), 0, "no session was opened");
    const row = await store.get<{ locked_until: number | null }>(`SELECT locked_until FROM sign_in_failures`);
    assert.ok(row?.locked_until, "the refused sign-in did not clear the lock");
  });

  it("positive control: the same sign-in with fewer failures than the threshold opens a session", async () => {
    const signingIn = signInWithPassword(store, box, { username: "victim", password: PASSWORD }, META);
    await Promise.all(
      Array.from({ length: MAX_FAILURES - 1 }, () => store.transaction((tx) => recordFailure(tx, "victim"))),
    );
    const signedIn = await signingIn;
    assert.equal(signedIn.user.username, "victim");
    assert.equal(await sessions(), 1);
    assert.equal(await store.get(`SELECT account FROM sign_in_failures`), undefined, "failures cleared");
  });
});
