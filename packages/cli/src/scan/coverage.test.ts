import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runScan } from "./run.ts";

const TESTDATA = new URL("../../../../test/data/", import.meta.url);
const GO_BUNDLE = fileURLToPath(new URL("osv/go-vulndb-osv.tar.gz", TESTDATA));
const PYPA_BUNDLE = fileURLToPath(new URL("osv/pypa-advisory-db-osv.tar.gz", TESTDATA));

let dir = "";

function cyclonedx(purls: string[]): string {
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    components: purls.map((purl, i) => ({ type: "library", "bom-ref": `c${i}`, name: `c${i}`, purl })),
  });
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, text);
  return path;
}

async function scan(argv: string[]) {
  let out = "";
  let err = "";
  const code = await runScan(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bw-scan-coverage-"));
});
after(() => rm(dir, { recursive: true, force: true }));

const MAVEN = [
  "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
  "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.8",
];

test("a Maven SBOM against Go and PyPI data is not reported as free of vulnerabilities (issue #14)", async () => {
  const sbom = await file("maven.cdx.json", cyclonedx(MAVEN));
  const r = await scan([sbom, "--osv", GO_BUNDLE, "--osv", PYPA_BUNDLE, "--fail-on", "none"]);
  assert.equal(r.code, 0);
  assert.doesNotMatch(r.out, /No known vulnerabilities found/);
  assert.match(
    r.out,
    /^Nothing was checked: the OSV data has no advisories for the ecosystems of this SBOM\./,
  );
  assert.match(r.out, /Maven: 0 of 2 components had advisory data \(the OSV data has no advisories/);
  assert.match(
    r.err,
    /warning: the OSV data has no advisories for any ecosystem of this SBOM \(Maven\): nothing was checked/,
  );
  const json = JSON.parse((await scan([sbom, "--osv", GO_BUNDLE, "--format", "json"])).out);
  assert.deepEqual(json.coverage, [
    { ecosystem: "Maven", components: 2, withAdvisoryData: 0, advisories: 0 },
  ]);

  // Positive control: with one Maven advisory in the data, the same SBOM is checked and covered.
  const osv = await file(
    "maven-osv/MAVEN-1.json",
    JSON.stringify({
      id: "MAVEN-1",
      modified: "2024-01-01T00:00:00Z",
      affected: [
        {
          package: { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "2.0" }, { fixed: "2.15.0" }] }],
        },
      ],
    }),
  );
  const covered = await scan([sbom, "--osv", join(osv, ".."), "--fail-on", "none"]);
  assert.match(covered.out, /MAVEN-1/);
  assert.match(covered.out, /Maven: 1 of 2 components had advisory data \(1 advisories\)/);
  assert.doesNotMatch(covered.err, /warning/);
});

test("a Go purl version with the v prefix matches an OSV versions list, and the table sorts by severity", async () => {
  const sbom = await file(
    "go.cdx.json",
    cyclonedx(["pkg:golang/github.com/example/redis/v4@v4.2.10", "pkg:golang/github.com/example/low@v1.0.0"]),
  );
  const dirOsv = join(dir, "go-osv");
  await file(
    "go-osv/GO-TEST-1.json",
    JSON.stringify({
      id: "GO-TEST-1",
      modified: "2024-01-01T00:00:00Z",
      affected: [
        { package: { ecosystem: "Go", name: "github.com/example/redis/v4" }, versions: ["4.2.9", "4.2.10"] },
      ],
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
    }),
  );
  await file(
    "go-osv/GO-TEST-2.json",
    JSON.stringify({
      id: "GO-TEST-2",
      modified: "2024-01-01T00:00:00Z",
      affected: [{ package: { ecosystem: "Go", name: "github.com/example/low" }, versions: ["1.0.0"] }],
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N" }],
    }),
  );
  const r = await scan([sbom, "--osv", dirOsv, "--fail-on", "none"]);
  const rows = r.out.split("\n").filter((l) => /^(LOW|MEDIUM|HIGH|CRITICAL|UNKNOWN) /.test(l));
  assert.equal(rows.length, 2, r.out);
  assert.match(rows[0]!, /^CRITICAL .*GO-TEST-1 .*v4\.2\.10/, "v4.2.10 is the listed 4.2.10");
  assert.match(rows[1]!, /^LOW .*GO-TEST-2/, "the lower severity below");
});

test("advisories whose versions do not parse are counted and named, not skipped silently (issue #14)", async () => {
  const sbom = await file("deb.cdx.json", cyclonedx(["pkg:deb/debian/openssl@3.0.11-1?distro=debian-12"]));
  await file(
    "deb-osv/DEB-BAD-1.json",
    JSON.stringify({
      id: "DEB-BAD-1",
      modified: "2024-01-01T00:00:00Z",
      affected: [
        {
          package: { ecosystem: "Debian:12", name: "openssl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "x:3.0.13-1" }] }],
        },
      ],
    }),
  );
  await file(
    "deb-osv/DEB-OK-1.json",
    JSON.stringify({
      id: "DEB-OK-1",
      modified: "2024-01-01T00:00:00Z",
      affected: [
        {
          package: { ecosystem: "Debian:12", name: "openssl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.0.13-1" }] }],
        },
      ],
    }),
  );
  const r = await scan([sbom, "--osv", join(dir, "deb-osv"), "--fail-on", "none"]);
  assert.match(r.out, /DEB-OK-1/, "the good advisory still matches");
  assert.match(r.out, /1 advisories could not be evaluated \(named on stderr\)/);
  assert.match(
    r.err,
    /1 advisory for packages of this SBOM could not be evaluated .*: DEB-BAD-1 \(Debian:12 openssl\)/,
  );
  const json = JSON.parse((await scan([sbom, "--osv", join(dir, "deb-osv"), "--format", "json"])).out);
  assert.equal(json.unevaluated.length, 1);
  assert.equal(json.unevaluated[0].id, "DEB-BAD-1");
  assert.match(json.unevaluated[0].reason, /invalid for Debian:12/);
});
