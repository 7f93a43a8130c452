import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { validateSchema } from "@bulwark/sdk/software/sbom/schema";
import {
  count,
  cyclonedx,
  osvDir,
  osvRecord,
  release,
  storeBackends,
  tempStore,
} from "../../test/store-fixtures.ts";
import { verifyAuditChain } from "../audit/audit-log.ts";
import { releaseById } from "../products/products.ts";
import { type Finding, listFindings, releaseFindings, setTriage } from "./findings.ts";
import { SoftwareMonitor } from "./monitor.ts";
import { cycloneDxVex, openVexDocument } from "./vex.ts";

const system = { type: "system" } as const;
const analyst = { type: "user", id: "analyst" } as const;

for (const backend of storeBackends)
  it(`monitoring on ${backend.name}: SBOM → findings, incremental re-match, triage carry-over, KEV, VEX`, async (ctx) => {
    const opened = await backend.open(ctx);
    if (!opened) return;
    const t = opened;
    const monitor = new SoftwareMonitor(t.store);
    let r1 = "";
    const open = async (releaseId: string): Promise<Finding[]> =>
      (await listFindings(t.store, { releaseId, status: "open", limit: 100, offset: 0 })).items;
    try {
      await monitor.importAdvisories(
        osvDir(t.dir, [
          // Two ids for one vulnerability (GHSA aliasing the CVE, and a second record naming both).
          osvRecord({
            id: "GHSA-aaaa-0000-0001",
            aliases: ["CVE-2024-0001"],
            name: "minimist",
            fixed: "1.2.6",
            cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
          }),
          osvRecord({
            id: "OSV-2024-0001",
            aliases: ["CVE-2024-0001", "GHSA-aaaa-0000-0001"],
            name: "minimist",
            fixed: "1.2.6",
          }),
          osvRecord({
            id: "GHSA-bbbb-0000-0002",
            aliases: ["CVE-2024-0002"],
            name: "qs",
            fixed: "6.10.3",
            cvss: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N",
          }),
        ]),
        system,
      );

      await ctx.test(
        "an uploaded SBOM is stored with its components and report, and matched at once",
        async () => {
          r1 = (await release(t.store, "gw", "1.0.0")).id;
          const summary = await monitor.attachSbom(
            r1,
            cyclonedx(["minimist@1.2.5", "qs@6.10.1", "express@4.18.2"]),
            analyst,
          );
          // The described application (metadata.component) is a component too.
          assert.equal(summary.sbom.components, 4);
          assert.equal(summary.sbom.minimumElements.components, 4);
          assert.equal(await count(t.store, "sbom_components"), 4);
          const findings = await open(r1);
          assert.deepEqual(findings.map((f) => f.vulnerability).sort(), ["CVE-2024-0001", "CVE-2024-0002"]);
          const minimist = findings.find((f) => f.component.name === "minimist")!;
          // Aliases merged: two advisories, one finding, worst severity kept.
          assert.deepEqual(minimist.advisories, ["GHSA-aaaa-0000-0001", "OSV-2024-0001"]);
          assert.equal(minimist.severity, "critical");
          assert.equal(minimist.score, 9.8);
          assert.deepEqual(minimist.triage, { state: "under_investigation" });
        },
      );

      await ctx.test("an advisory import re-matches only the packages it touches", async () => {
        const summary = await monitor.importAdvisories(
          osvDir(t.dir, [
            osvRecord({
              id: "GHSA-cccc-0000-0003",
              aliases: ["CVE-2024-0003"],
              name: "express",
              fixed: "4.19.0",
            }),
          ]),
          system,
        );
        assert.equal(summary.packages, 1);
        assert.equal(summary.rematch.components, 1, "only the express component was matched again");
        assert.equal(summary.rematch.created, 1);
        assert.equal((await open(r1)).length, 3);
      });

      await ctx.test(
        "triage carries over to a later release with the same component version, audit-logged",
        async () => {
          const qs = (await open(r1)).find((f) => f.component.name === "qs")!;
          await t.store.transaction((tx) =>
            setTriage(
              tx,
              qs.id,
              { state: "not_affected", justification: "vulnerable_code_not_in_execute_path" },
              analyst,
              "manual",
            ),
          );
          const r2 = (await release(t.store, "gw", "1.1.0")).id;
          const summary = await monitor.attachSbom(r2, cyclonedx(["minimist@1.2.6", "qs@6.10.1"]), analyst);
          assert.equal(summary.rematch.carriedOver, 1);
          const later = await open(r2);
          assert.equal(later.length, 1, "minimist 1.2.6 is fixed");
          assert.deepEqual(later[0]!.triage, {
            state: "not_affected",
            justification: "vulnerable_code_not_in_execute_path",
          });
          assert.match(later[0]!.triageSource ?? "", /^carried-over:/);
          const audits = await t.store.all<{ target_id: string }>(
            `SELECT target_id FROM audit_log WHERE action = 'finding.triage'`,
          );
          assert.deepEqual(audits.map((a) => a.target_id).sort(), [qs.id, later[0]!.id].sort());
          assert.equal((await verifyAuditChain(t.store)).problem, undefined);
        },
      );

      await ctx.test("a withdrawn advisory resolves its findings", async () => {
        const withdrawn = osvRecord({
          id: "GHSA-cccc-0000-0003",
          aliases: ["CVE-2024-0003"],
          name: "express",
          fixed: "4.19.0",
          modified: "2024-05-01T00:00:00Z",
          withdrawn: "2024-05-01T00:00:00Z",
        });
        const summary = await monitor.importAdvisories(osvDir(t.dir, [withdrawn]), system);
        assert.equal(summary.rematch.resolved, 1);
        const express = (await releaseFindings(t.store, r1)).find((f) => f.component.name === "express")!;
        assert.equal(express.status, "resolved");
        assert.equal(express.resolution, "withdrawn");
      });

      await ctx.test(
        "a KEV import flags newly known-exploited findings as Article 14 candidates",
        async () => {
          const kev = join(t.dir, "kev.json.gz");
          writeFileSync(
            kev,
            gzipSync(
              JSON.stringify({
                title: "CISA Catalog of Known Exploited Vulnerabilities",
                catalogVersion: "2026.01.01",
                dateReleased: "2026-01-01T00:00:00Z",
                count: 1,
                vulnerabilities: [
                  {
                    cveID: "CVE-2024-0002",
                    vendorProject: "ljharb",
                    product: "qs",
                    vulnerabilityName: "qs pollution",
                    dateAdded: "2026-01-01",
                    shortDescription: "",
                    requiredAction: "",
                    dueDate: "2026-01-22",
                    knownRansomwareCampaignUse: "Unknown",
                    notes: "",
                  },
                ],
              }),
            ),
          );
          const summary = await monitor.importKev(kev, system);
          assert.equal(summary.added, 1);
          assert.equal(summary.rematch.updated, 2, "qs in both releases");
          const candidates = await listFindings(t.store, { article14Candidate: true, limit: 10, offset: 0 });
          assert.equal(candidates.total, 2);
          assert.ok(candidates.items.every((f) => f.knownExploited && f.vulnerability === "CVE-2024-0002"));
        },
      );

      await ctx.test(
        "exports OpenVEX 0.2.0 and a CycloneDX 1.6 VEX that validates against the official schema",
        async () => {
          const rel = (await releaseById(t.store, r1))!;
          const findings = await releaseFindings(t.store, r1);
          const cdx = cycloneDxVex(rel, findings);
          validateSchema("cyclonedx-1.6", cdx, "vex");
          const states = Object.fromEntries(
            cdx.vulnerabilities.map((v) => [v.id, (v.analysis as { state: string }).state]),
          );
          assert.deepEqual(states, { "CVE-2024-0001": "in_triage", "CVE-2024-0002": "not_affected" });
          const ovx = openVexDocument(rel, findings, "test");
          assert.equal(ovx["@context"], "https://openvex.dev/ns/v0.2.0");
          const qs = ovx.statements.find((s) => s.vulnerability.name === "CVE-2024-0002")!;
          assert.equal(qs.status, "not_affected");
          assert.equal(
            (qs as { justification?: string }).justification,
            "vulnerable_code_not_in_execute_path",
          );
          assert.equal(qs.products[0]!["@id"], "pkg:generic/gw@1.0.0");
          assert.deepEqual(qs.products[0]!.subcomponents, [{ "@id": "pkg:npm/qs@6.10.1" }]);
        },
      );
    } finally {
      await opened.close();
    }
  });

describe("stored values are portable to PostgreSQL", () => {
  it("package keys hold no NUL byte (PostgreSQL TEXT cannot store one)", async () => {
    const t = await tempStore();
    try {
      const monitor = new SoftwareMonitor(t.store);
      await monitor.importAdvisories(
        osvDir(t.dir, [osvRecord({ id: "GHSA-nul0-0000-0001", name: "minimist", fixed: "1.2.6" })]),
        system,
      );
      await monitor.attachSbom((await release(t.store, "p", "1")).id, cyclonedx(["minimist@1.2.5"]), analyst);
      const keys = await t.store.all<{ k: string }>(
        `SELECT package_key AS k FROM vulnerability_packages UNION SELECT package_key AS k FROM sbom_components
         WHERE package_key IS NOT NULL UNION SELECT package_key AS k FROM component_purls`,
      );
      assert.deepEqual(
        keys.map((r) => r.k),
        ["npm:minimist"],
      );
    } finally {
      await t.close();
    }
  });
});
