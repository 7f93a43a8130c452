import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pino } from "pino";
import { freshSchema, needServices } from "../../../../test/services.ts";
import { listAudit } from "../audit/audit-log.ts";
import { FileKeyCustody } from "../custody/file-key-custody.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import { createProduct } from "../products/products.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { PostgresStore } from "../store/postgres.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { Store } from "../store/store.ts";
import { sweepRetiredTufKeys } from "./tuf-key-sweep.ts";
import { generateSignerPair } from "./tuf-keys.ts";
import { type TufDeps, withRepository } from "./tuf-repository.ts";
import { rotateKeys } from "./tuf-rotate.ts";
import { type RoleKeyIds, tufRepositoryRow, updateTufRepository } from "./tuf-store.ts";

class Crash extends Error {}

async function setup(opened?: Store) {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-tuf-sweep-"));
  const store = opened ?? new SqliteStore(join(dir, "t.db"));
  await migrate(store, migrations);
  const keysDir = join(dir, "keys");
  const custody = new FileKeyCustody({ dir: keysDir, masterKey: randomBytes(32) });
  const product = await createProduct(store, `p-${randomBytes(4).toString("hex")}`);
  const deps: TufDeps = { store, custody };
  await withRepository(deps, product.id, async () => ({ result: undefined })); // created on first use
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
  const keyFile = (id: string) => join(keysDir, `${id}.key.json`);
  const roleKeys = async () => (await tufRepositoryRow(store, product.id))!.roleKeys;
  const allIds = (k: RoleKeyIds) => [
    ...k.root,
    ...k.targets,
    ...k.snapshot,
    ...k.timestamp,
    ...Object.values(k.components).flat(),
  ];
  return { store, custody, deps, productId: product.id, lines, log, keyFile, keysDir, roleKeys, allIds };
}

/** The real custody, except that destroying stops as the process would if it died there. */
const dyingAtDestroy = (custody: KeyCustody): KeyCustody => ({
  generate: (...a) => custody.generate(...a),
  get: (id) => custody.get(id),
  signer: (id) => custody.signer(id),
  exportPrivateKeyPem: (id) => custody.exportPrivateKeyPem(id),
  list: () => custody.list(),
  destroy: async () => {
    throw new Crash("the process stopped between the commit and the unlink");
  },
});

describe("the sweep of retired TUF custody keys", () => {
  it("a rotation stopped between its commit and the unlink: the sweep destroys the retired keys, never a named or non-TUF one", async () => {
    const t = await setup();
    const caKey = await t.custody.generate("ca:test-root", "ecdsa-p256");
    const before = await t.roleKeys();
    await assert.rejects(
      rotateKeys({ ...t.deps, custody: dyingAtDestroy(t.custody) }, t.productId, "timestamp", {
        type: "system",
      }),
      Crash,
    );
    const after = await t.roleKeys();
    assert.notDeepEqual(after.timestamp, before.timestamp, "the rotation committed");
    const retired = before.timestamp;
    for (const id of retired) assert.ok(existsSync(t.keyFile(id)), "left behind: no row names it");
    const sealed = retired.map((id) => JSON.parse(readFileSync(t.keyFile(id), "utf8")).ciphertext as string);

    const swept = await sweepRetiredTufKeys(t.deps, t.log);
    assert.deepEqual(swept.map((k) => k.id).sort(), [...retired].sort());
    for (const k of swept) {
      assert.equal(k.productId, t.productId);
      assert.match(k.label, new RegExp(`^tuf:${t.productId}:timestamp:`));
    }
    for (const id of retired) assert.equal(existsSync(t.keyFile(id)), false, "destroyed");
    // Positive control: every key the row names is still there and still signs; the CA key is untouched.
    for (const id of t.allIds(after)) assert.ok(existsSync(t.keyFile(id)), `named key ${id} kept`);
    assert.ok(existsSync(t.keyFile(caKey.id)), "a key that is not a TUF key is never swept");
    const state = await rotateKeys(t.deps, t.productId, "targets", { type: "system" });
    assert.equal(state.status, "published", "the kept keys still sign the next rotation");

    const audit = (await listAudit(t.store, { limit: 1000 })).filter((e) => e.action === "tuf.keys.sweep");
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.targetId, t.productId);
    assert.deepEqual(
      (audit[0]!.details as { keys: { id: string }[] }).keys.map((k) => k.id).sort(),
      [...retired].sort(),
    );
    const logged = t.lines.join("");
    for (const id of retired) assert.ok(logged.includes(id), "the removed key ids are logged");
    for (const s of sealed) assert.equal(logged.includes(s), false, "never the key material");

    // Nothing left to sweep (the second rotation destroyed its own retired keys): no entry, no line.
    const lines = t.lines.length;
    assert.deepEqual(await sweepRetiredTufKeys(t.deps, t.log), []);
    assert.equal(t.lines.length, lines);
    assert.equal(
      (await listAudit(t.store, { limit: 1000 })).filter((e) => e.action === "tuf.keys.sweep").length,
      1,
    );
  });

  it("a key written by a change not yet committed is left alone; one whose change never committed is destroyed", async () => {
    await inFlight(await setup());
  });

  it("PostgreSQL, two stores as two processes: the sweep in one waits for a change in the other", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const schema = freshSchema();
    await schema.create();
    const writer = await PostgresStore.open({ url: schema.url });
    const sweeper = await PostgresStore.open({ url: schema.url });
    try {
      const s = await setup(writer);
      await inFlight(s, { ...s.deps, store: sweeper });
    } finally {
      await writer.close();
      await sweeper.close();
      await schema.drop();
    }
  });
});

/**
 * A change holds the product's lock with its keys made and not yet committed while a sweep (from
 * `sweepDeps`: another process's store) lists them; then a waiting rotation's keys, and keys whose
 * change never committed (the positive control).
 */
async function inFlight(t: Awaited<ReturnType<typeof setup>>, sweepDeps: TufDeps = t.deps): Promise<void> {
  // The sweep has listed the keys and gone on to the store: asked for the lock, or (were it not to
  // take one) read the row before the commit.
  let reached!: () => void;
  const sweepReachedStore = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const watchedStore = new Proxy(sweepDeps.store, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "exclusive") reached();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (prop === "get") void (result as Promise<unknown>).then(reached, reached);
        return result;
      };
    },
  });
  let sweep: Promise<unknown> | undefined;
  let made: string[] = [];
  await withRepository(t.deps, t.productId, async (ctx) => {
    // As a rotation does: the keys exist before the commit that names them.
    made = await generateSignerPair(t.custody, `tuf:${t.productId}:probe`);
    sweep = sweepRetiredTufKeys({ ...sweepDeps, store: watchedStore }, t.log);
    await sweepReachedStore; // the sweep has seen the new keys, unnamed so far
    return {
      result: undefined,
      change: {
        roleKeys: { ...ctx.row.roleKeys, components: { ...ctx.row.roleKeys.components, probe: made } },
      },
    };
  });
  assert.deepEqual(await sweep, [], "nothing swept");
  for (const id of made) assert.ok(existsSync(t.keyFile(id)), "the committed keys are kept");

  // A rotation waiting for offline root signatures names its new keys in pending_rotation.
  const waiting = await generateSignerPair(t.custody, `tuf:${t.productId}:snapshot:v2`);
  await updateTufRepository(t.store, t.productId, {
    pendingRotation: { version: 2, roleKeys: { snapshot: waiting } },
  });
  assert.deepEqual(await sweepRetiredTufKeys(sweepDeps, t.log), []);
  for (const id of waiting) assert.ok(existsSync(t.keyFile(id)), "a waiting rotation's key is kept");
  await updateTufRepository(t.store, t.productId, { pendingRotation: null });

  // Positive control: keys made for a change that died before its commit are unnamed for good.
  const orphans = await generateSignerPair(t.custody, `tuf:${t.productId}:timestamp:v9`);
  const swept = await sweepRetiredTufKeys(sweepDeps, t.log);
  assert.deepEqual(swept.map((k) => k.id).sort(), [...orphans, ...waiting].sort());
  assert.deepEqual(
    readdirSync(t.keysDir)
      .map((n) => n.replace(".key.json", ""))
      .sort(),
    t.allIds(await t.roleKeys()).sort(),
    "exactly the named keys are left",
  );
}
