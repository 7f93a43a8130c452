import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { it } from "node:test";
import { cyclonedx, osvDir, osvRecord, release, storeBackends } from "../../../test/store-fixtures.ts";
import { setMfaRequiredRoles } from "../../access/mfa.ts";
import { appendAudit } from "../../audit/audit-log.ts";
import { listFindings, setTriage } from "../../software/findings.ts";
import { SoftwareMonitor } from "../../software/monitor.ts";
import type { Store } from "../../store/store.ts";
import { recordAdvisory } from "../advisory-store.ts";
import { craCapabilities } from "../capabilities.ts";
import { productById } from "../product-source.ts";
import { evaluateAnnexI, recordSnapshots, snapshotHistory } from "./engine.ts";
import type { RequirementId } from "./types.ts";

/**
 * The engine flips the right requirement when the platform changes (issue #16 item 9), on SQLite
 * and PostgreSQL: each step changes one piece of live state and checks the row that must move.
 */
const KEV = new URL("../../../../../test/data/kev/known_exploited_vulnerabilities.json.gz", import.meta.url)
  .pathname;
const system = { type: "system" } as const;

async function statusOf(store: Store, productId: string, id: RequirementId, full = false) {
  const product = await productById(store, productId);
  const matrix = await evaluateAnnexI(store, product!, craCapabilities(), Date.now(), {
    fullAuditVerification: full,
  });
  assert.equal(matrix.requirements.length, 22, "all 22 requirements are evaluated");
  const row = matrix.requirements.find((r) => r.id === id)!;
  return { status: row.status, reason: row.reason, matrix };
}

for (const backend of storeBackends)
  it(`the Annex I engine follows platform changes on ${backend.name}`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const monitor = new SoftwareMonitor(t.store);
      // log4shell's CVE is in the real KEV catalogue; the advisory names it as an alias.
      await monitor.importAdvisories(
        osvDir(t.dir, [
          osvRecord({
            id: "GHSA-cra0-0000-0001",
            aliases: ["CVE-2021-44228"],
            name: "log4js",
            fixed: "2.0.0",
          }),
        ]),
        system,
      );
      const r1 = await release(t.store, "gw", "1.0");
      await monitor.attachSbom(r1.id, cyclonedx(["log4js@1.0.0", "left-pad@1.3.0"]), system);
      const product = r1.productId;

      await ctx.test("a KEV finding opens → (2)(a) not met", async () => {
        const before = await statusOf(t.store, product, "I-2(a)");
        assert.equal(before.status, "partly-met", before.reason);
        assert.match(before.reason, /under investigation/);
        await monitor.importKev(KEV, system);
        const after = await statusOf(t.store, product, "I-2(a)");
        assert.equal(after.status, "not-met");
        assert.match(after.reason, /known-exploited/);
      });

      await ctx.test("admin 2FA enforcement turned off → (2)(d) partly met", async () => {
        await setMfaRequiredRoles(t.store, ["admin"]);
        const before = await statusOf(t.store, product, "I-2(d)");
        assert.equal(before.status, "met", before.reason);
        await setMfaRequiredRoles(t.store, []);
        const after = await statusOf(t.store, product, "I-2(d)");
        assert.equal(after.status, "partly-met");
        assert.match(after.reason, /not enforced for administrators/);
      });

      await ctx.test("a fixed vulnerability without an advisory → Part II (4) not met", async () => {
        const before = await statusOf(t.store, product, "II-4");
        assert.equal(before.status, "met", before.reason);
        const [finding] = (await listFindings(t.store, { releaseId: r1.id, limit: 10, offset: 0 })).items;
        await t.store.transaction((tx) => setTriage(tx, finding!.id, { state: "fixed" }, system, "test"));
        const after = await statusOf(t.store, product, "II-4");
        assert.equal(after.status, "not-met");
        assert.match(after.reason, /CVE-2021-44228/);
        await t.store.transaction((tx) =>
          recordAdvisory(
            tx,
            {
              id: randomUUID(),
              productId: product,
              trackingId: "BW-TEST-1",
              releaseId: null,
              vulnerabilities: ["CVE-2021-44228"],
              document: "{}",
              sha512: "00",
              signature: null,
              publishedAt: Date.now(),
            },
            null,
          ),
        );
        assert.equal(
          (await statusOf(t.store, product, "II-4")).status,
          "met",
          "the advisory closes it again",
        );
      });

      await ctx.test("a release without an SBOM → Part II (1) not met", async () => {
        const before = await statusOf(t.store, product, "II-1");
        assert.notEqual(before.status, "not-met", before.reason);
        await release(t.store, "gw", "1.1");
        const after = await statusOf(t.store, product, "II-1");
        assert.equal(after.status, "not-met");
        assert.match(after.reason, /1\.1/);
      });

      await ctx.test("a tampered audit entry → (2)(l) not met", async () => {
        const before = await statusOf(t.store, product, "I-2(l)");
        assert.notEqual(before.status, "not-met", before.reason);
        const evidence = (s: Awaited<ReturnType<typeof statusOf>>) =>
          s.matrix.requirements.find((r) => r.id === "I-2(l)")!.evidence[0]!.detail;
        // The matrix before walked the chain and left a verified point: now only newer entries are read.
        const incremental = await statusOf(t.store, product, "I-2(l)");
        assert.match(evidence(incremental), /incremental verification/);
        // An entry newer than the point, edited: caught by the incremental walk.
        await t.store.transaction((tx) =>
          appendAudit(tx, { actor: system, action: "test.newer", outcome: "success" }),
        );
        await t.store.run(
          `UPDATE audit_log SET details = '{"edited":true}' WHERE seq = (SELECT MAX(seq) FROM audit_log)`,
        );
        const after = await statusOf(t.store, product, "I-2(l)");
        assert.equal(after.status, "not-met");
        assert.match(after.reason, /audit chain does not verify/);
        assert.match(evidence(after), /hash-mismatch \(incremental verification\)/);
        // The oldest entry, edited (before any verified point): ?full=1 walks it and catches it.
        await t.store.run(
          `UPDATE audit_log SET details = '{"edited":true}' WHERE seq = (SELECT MIN(seq) FROM audit_log)`,
        );
        const full = await statusOf(t.store, product, "I-2(l)", true);
        assert.equal(full.status, "not-met");
        assert.match(evidence(full), /^chain broken at \d+: hash-mismatch \(full verification\)/);
      });

      await ctx.test("snapshots keep a dated history of changes only", async () => {
        const { matrix } = await statusOf(t.store, product, "I-1");
        const first = await recordSnapshots(t.store, matrix);
        assert.equal(first.length, 22, "the first snapshot records every requirement");
        assert.deepEqual(await recordSnapshots(t.store, matrix), [], "an unchanged matrix records nothing");
        await setMfaRequiredRoles(t.store, ["admin"]);
        const next = (await statusOf(t.store, product, "I-1")).matrix;
        assert.deepEqual(await recordSnapshots(t.store, next), ["I-2(d)"]);
        const history = await snapshotHistory(t.store, product, "I-2(d)");
        assert.deepEqual(
          history.map((h) => h.status),
          ["partly-met", "met"],
        );
      });
    } finally {
      await t.close();
    }
  });
