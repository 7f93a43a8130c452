import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readKevCatalog } from "./kev.ts";
import { readOsvBundle } from "./osv/bundle.ts";
import { normalizePypiName } from "./osv/names.ts";
import { validateOsvRecord } from "./osv/parse.ts";
import type { OsvRecord } from "./osv/types.ts";
import { parseSbomText } from "./sbom/parse.ts";
import { buildOsvIndex, type Finding, scanSbom, severityRank } from "./scan.ts";

const TESTDATA = new URL("../../../../test/data/", import.meta.url);

async function realRecords(): Promise<OsvRecord[]> {
  const out: OsvRecord[] = [];
  for (const f of ["go-vulndb-osv.tar.gz", "pypa-advisory-db-osv.tar.gz"]) {
    for await (const r of readOsvBundle(fileURLToPath(new URL(`osv/${f}`, TESTDATA)))) out.push(r.record);
  }
  return out;
}

function sbom(purls: string[]): string {
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    components: purls.map((purl, i) => ({ type: "library", "bom-ref": `c${i}`, name: `n${i}`, purl })),
  });
}

const ids = (fs: Finding[], ref: string): string[] =>
  fs
    .filter((f) => f.componentRef === ref)
    .map((f) => f.vulnId)
    .sort();

test("scanning against the real Go and PyPA data finds known advisories and flags KEV entries", async () => {
  const kev = await readKevCatalog(
    fileURLToPath(new URL("kev/known_exploited_vulnerabilities.json.gz", TESTDATA)),
  );
  const index = buildOsvIndex(await realRecords(), kev);
  assert.ok(index.withdrawn > 0, "withdrawn records are counted and left out");
  const doc = parseSbomText(
    sbom([
      "pkg:pypi/salt@3000.1", // c0: PYSEC-2020-102 (CVE-2020-11651, in KEV)
      "pkg:pypi/salt@3000.2", // c1: fixed for that advisory
      "pkg:golang/github.com/coder/coder/v2@v2.14.0", // c2: GO-2024-3228
      "pkg:golang/github.com/coder/coder/v2@v2.14.4", // c3: fixed
      "pkg:pypi/Apache_SkyWalking@1.0.1", // c4: PEP 503 name normalisation, PYSEC-2020-342 (CVSS 9.8)
      "pkg:npm/left-pad@1.3.0", // c5: nothing known
      "pkg:pypi/redis@4.5.4", // c6: PYSEC-2023-73 is withdrawn
    ]),
  );
  const { findings, scanned } = scanSbom(doc, index);
  assert.equal(scanned, 7);
  assert.ok(ids(findings, "c0").includes("PYSEC-2020-102"));
  assert.ok(!ids(findings, "c1").includes("PYSEC-2020-102"));
  const salt = findings.find((f) => f.componentRef === "c0" && f.vulnId === "PYSEC-2020-102")!;
  assert.equal(salt.knownExploited, true);
  assert.ok(salt.aliases.includes("CVE-2020-11651"));
  assert.deepEqual(salt.fixedVersions, ["2019.2.4", "3000.2"]);
  assert.ok(ids(findings, "c2").includes("GO-2024-3228"));
  assert.ok(!ids(findings, "c3").includes("GO-2024-3228"));
  const sky = findings.find((f) => f.componentRef === "c4" && f.vulnId === "PYSEC-2020-342")!;
  assert.equal(sky.severity, "critical");
  assert.equal(sky.score, 9.8);
  assert.deepEqual(ids(findings, "c5"), []);
  assert.ok(!ids(findings, "c6").includes("PYSEC-2023-73"));
});

test("Maven group:artifact, Debian releases and one finding per advisory", () => {
  const rec = (id: string, affected: unknown[]): OsvRecord =>
    validateOsvRecord({ id, modified: "2024-01-01T00:00:00Z", affected });
  const index = buildOsvIndex([
    rec("MVN-1", [
      {
        package: { ecosystem: "Maven", name: "org.example:lib" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "2.0" }] }],
      },
      { package: { ecosystem: "Maven", name: "org.example:lib" }, versions: ["1.0"] },
    ]),
    rec("DEB-1", [
      {
        package: { ecosystem: "Debian:12", name: "curl" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "7.88.1-10+deb12u5" }] }],
      },
    ]),
  ]);
  const doc = parseSbomText(
    sbom([
      "pkg:maven/org.example/lib@1.0",
      "pkg:maven/org.example/other@1.0",
      "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u4?distro=debian-12",
      "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u4?distro=debian-11",
      "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?distro=debian-12",
    ]),
  );
  const { findings } = scanSbom(doc, index);
  assert.deepEqual(ids(findings, "c0"), ["MVN-1"], "one finding although two affected[] entries match");
  assert.deepEqual(ids(findings, "c1"), []);
  assert.deepEqual(ids(findings, "c2"), ["DEB-1"]);
  assert.deepEqual(ids(findings, "c3"), [], "another Debian release is not matched");
  assert.deepEqual(ids(findings, "c4"), []);
  assert.equal(findings[0]?.severity, "unknown");
});

test("PEP 503 names and severity ranking", () => {
  assert.equal(normalizePypiName("Foo.Bar__baz-"), "foo-bar-baz-");
  assert.ok(severityRank("critical") > severityRank("unknown"));
  assert.ok(severityRank("unknown") > severityRank("medium"));
  assert.ok(severityRank("low") > severityRank("none"));
});
