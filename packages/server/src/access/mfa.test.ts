import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import { storeBackends } from "../../test/store-fixtures.ts";
import { beginTotpEnrolment, confirmTotpEnrolment, verifySecondFactor } from "./mfa.ts";
import { SecretBox } from "./secret-box.ts";
import { base32Decode, totpAt } from "./totp.ts";
import { createUser } from "./users.ts";

/**
 * Single use under concurrency: a TOTP code and a recovery code are each taken by one conditional
 * update, so of parallel checks with the same code exactly one passes (RFC 6238 §5.2).
 */
const box = new SecretBox(randomBytes(32));

for (const backend of storeBackends) {
  it(`second factors on ${backend.name}: one TOTP code or recovery code sent 8 times in parallel passes once`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const user = await createUser(t.store, {
        username: "u",
        password: "unused long password",
        role: "operator",
        mustChangePassword: false,
      });
      const now = Date.now();
      const { secret } = await beginTotpEnrolment(t.store, box, user);
      const seed = base32Decode(secret);
      const [recovery] = await confirmTotpEnrolment(t.store, box, user.id, totpAt(seed, now - 30_000), now);
      const code = totpAt(seed, now);
      const parallel = (factor: { code: string } | { recoveryCode: string }) =>
        Promise.all(Array.from({ length: 8 }, () => verifySecondFactor(t.store, box, user.id, factor, now)));
      assert.deepEqual((await parallel({ code })).filter(Boolean).length, 1);
      assert.deepEqual((await parallel({ recoveryCode: recovery! })).filter(Boolean).length, 1);
      // Positive control: the next step's code is new, and passes.
      assert.equal(
        await verifySecondFactor(t.store, box, user.id, { code: totpAt(seed, now + 30_000) }, now),
        true,
      );
    } finally {
      await t.close();
    }
  });
}

it("TOTP enrolment: a confirmation racing a restart never reports success for a seed that is not active", async (ctx) => {
  const t = await storeBackends[0]!.open(ctx);
  try {
    const user = await createUser(t!.store, {
      username: "u",
      password: "unused long password",
      role: "operator",
      mustChangePassword: false,
    });
    const now = Date.now();
    const { secret } = await beginTotpEnrolment(t!.store, box, user);
    const code = totpAt(base32Decode(secret), now);
    // SQLite answers each statement at once: the two flows interleave at each of their awaits.
    const [confirmed, restarted] = await Promise.allSettled([
      confirmTotpEnrolment(t!.store, box, user.id, code, now),
      beginTotpEnrolment(t!.store, box, user),
    ]);
    assert.equal(restarted.status, "fulfilled", "the restart replaced the seed");
    const row = await t!.store.get<{ enabled: number; secret_sealed: string }>(
      `SELECT enabled, secret_sealed FROM user_totp WHERE user_id = ?`,
      [user.id],
    );
    const active = Number(row?.enabled) === 1;
    if (confirmed.status === "fulfilled")
      assert.ok(
        active && box.open(row!.secret_sealed, `totp-seed|${user.id}`) === secret,
        "the confirmed seed is active",
      );
    else assert.equal(active, false, "a refused confirmation activates nothing");
  } finally {
    await t!.close();
  }
});
