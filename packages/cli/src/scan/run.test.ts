import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runScan } from "./run.ts";

const TESTDATA = new URL("../../../../test/data/", import.meta.url);
const GO_BUNDLE = fileURLToPath(new URL("osv/go-vulndb-osv.tar.gz", TESTDATA));
const KEV = fileURLToPath(new URL("kev/known_exploited_vulnerabilities.json.gz", TESTDATA));

let dir = "";
let sbomPath = "";
let pyOsvDir = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bw-scan-cli-"));
  sbomPath = join(dir, "bom.json");
  await writeFile(
    sbomPath,
    JSON.stringify({
      bomFormat: "CycloneDX",
      specVersion: "1.5",
      version: 1,
      components: [
        {
          type: "library",
          "bom-ref": "coder",
          name: "coder",
          purl: "pkg:golang/github.com/coder/coder/v2@v2.14.0",
        },
        { type: "library", "bom-ref": "demo", name: "demo", purl: "pkg:pypi/demo-lib@1.0" },
        { type: "library", "bom-ref": "safe", name: "safe", purl: "pkg:pypi/demo-lib@2.0" },
      ],
    }),
  );
  pyOsvDir = join(dir, "osv");
  await mkdir(pyOsvDir);
  await writeFile(
    join(pyOsvDir, "DEMO-1.yaml"),
    [
      "id: DEMO-1",
      "modified: 2024-01-01T00:00:00Z",
      "aliases: [CVE-2020-11651]",
      "summary: demo issue",
      "severity: [{type: CVSS_V3, score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N'}]",
      "affected:",
      "- package: {ecosystem: PyPI, name: Demo_Lib}",
      "  ranges: [{type: ECOSYSTEM, events: [{introduced: '0'}, {fixed: '1.5'}]}]",
    ].join("\n"),
  );
  await writeFile(join(dir, "bad.json"), '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": 3}');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Captured {
  code: number;
  out: string;
  err: string;
}

/** The stderr notes other than the coverage warnings (this SBOM mixes Go and PyPI; most runs give one source). */
function notesBesidesCoverage(err: string): string {
  return err
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("bulwark scan: warning: the OSV data has no advisories"))
    .map((l) => `${l}\n`)
    .join("");
}

async function scan(argv: string[]): Promise<Captured> {
  let out = "";
  let err = "";
  const code = await runScan(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

test("table output and --fail-on thresholds on scored findings", async () => {
  const all = await scan([sbomPath, "--osv", GO_BUNDLE, "--osv", pyOsvDir, "--kev", KEV]);
  assert.equal(all.code, 1, all.err);
  assert.match(all.out, /GO-2024-3228/);
  assert.match(all.out, /DEMO-1 \(CVE-2020-11651\)/);
  assert.match(all.out, /MEDIUM\s+5\.9\s+yes/);
  assert.doesNotMatch(all.out, /demo-lib \[PyPI\]\s+2\.0/);
  const critical = await scan([sbomPath, "--osv", pyOsvDir, "--fail-on", "critical"]);
  assert.equal(critical.code, 0);
  const medium = await scan([sbomPath, "--osv", pyOsvDir, "--fail-on", "medium"]);
  assert.equal(medium.code, 1);
  const high = await scan([sbomPath, "--osv", pyOsvDir, "--fail-on", "high"]);
  assert.equal(high.code, 0, "a 5.9 finding is below high");
  assert.equal(notesBesidesCoverage(high.err), "", "no note without unscored findings");
  assert.match(high.err, /no advisories for Go \(1 component\): those components were not checked/);
  const none = await scan([sbomPath, "--osv", GO_BUNDLE, "--osv", pyOsvDir, "--fail-on", "none"]);
  assert.equal(none.code, 0);
});

test("unscored findings (every Go advisory) fail closed at any threshold unless --ignore-unscored, and are always counted", async () => {
  const go = await scan([sbomPath, "--osv", GO_BUNDLE, "--fail-on", "high"]);
  const unscored = (go.out.match(/^UNKNOWN /gm) ?? []).length;
  assert.ok(unscored > 1);
  assert.equal(go.out.match(/^(LOW|MEDIUM|HIGH|CRITICAL) /gm), null, "a Go-only scan has no scored finding");
  assert.equal(go.code, 1, "a Go-only SBOM full of advisories must not pass --fail-on high");
  assert.match(go.out, new RegExp(`${unscored} findings, ${unscored} without a CVSS score`));
  assert.equal(
    notesBesidesCoverage(go.err),
    `bulwark scan: ${unscored} findings have no CVSS score and fail the scan at any --fail-on threshold (pass --ignore-unscored to gate on scored findings only)\n`,
  );
  for (const failOn of ["low", "medium", "critical"]) {
    const gated = await scan([sbomPath, "--osv", GO_BUNDLE, "--fail-on", failOn]);
    assert.equal(gated.code, 1, `--fail-on ${failOn}`);
  }
  const byDefault = await scan([sbomPath, "--osv", GO_BUNDLE]);
  assert.equal(byDefault.code, 1, "the default threshold (low) fails on unscored findings too");

  const ignored = await scan([sbomPath, "--osv", GO_BUNDLE, "--fail-on", "high", "--ignore-unscored"]);
  assert.equal(ignored.code, 0, "explicit opt-out");
  assert.equal(
    notesBesidesCoverage(ignored.err),
    `bulwark scan: ${unscored} findings have no CVSS score and did not count towards --fail-on high (--ignore-unscored)\n`,
  );
  const none = await scan([sbomPath, "--osv", GO_BUNDLE, "--fail-on", "none"]);
  assert.equal(none.code, 0, "--fail-on none never fails");
  assert.equal(
    notesBesidesCoverage(none.err),
    `bulwark scan: ${unscored} findings have no CVSS score (--fail-on none: nothing fails the scan)\n`,
  );

  const json = JSON.parse(
    (await scan([sbomPath, "--osv", GO_BUNDLE, "--osv", pyOsvDir, "--format", "json"])).out,
  );
  assert.equal(json.unscored, unscored);
  assert.equal(json.ignoreUnscored, false);
  assert.equal(json.failOnUnscored, undefined);
  // With the opt-out, scored findings still gate by their rating when unscored ones are present too.
  const mixed = ["--osv", GO_BUNDLE, "--osv", pyOsvDir, "--ignore-unscored"];
  assert.equal((await scan([sbomPath, ...mixed, "--fail-on", "medium"])).code, 1, "5.9 reaches medium");
  assert.equal((await scan([sbomPath, ...mixed, "--fail-on", "high"])).code, 0, "5.9 is below high");
  // The fail-open flag of the previous behaviour is gone: passing it is a usage error, not a no-op.
  const removed = await scan([sbomPath, "--osv", GO_BUNDLE, "--fail-on-unscored"]);
  assert.equal(removed.code, 2);
  assert.match(removed.err, /fail-on-unscored/);
});

test("json output lists findings with severity, fix and KEV data", async () => {
  const r = await scan([sbomPath, "--osv", pyOsvDir, "--kev", KEV, "--format", "json"]);
  const doc = JSON.parse(r.out);
  assert.equal(doc.scanned, 3);
  assert.equal(doc.findings.length, 1);
  const f = doc.findings[0];
  assert.equal(f.vulnId, "DEMO-1");
  assert.equal(f.componentRef, "demo");
  assert.equal(f.severity, "medium");
  assert.equal(f.score, 5.9);
  assert.deepEqual(f.fixedVersions, ["1.5"]);
  assert.equal(f.knownExploited, true);
  assert.equal(doc.kevCatalogVersion, "2025.08.25");
});

test("sarif output has the SARIF 2.1.0 shape", async () => {
  const r = await scan([sbomPath, "--osv", GO_BUNDLE, "--osv", pyOsvDir, "--format", "sarif"]);
  const log = JSON.parse(r.out);
  assert.equal(log.version, "2.1.0");
  assert.match(log.$schema, /sarif-schema-2\.1\.0\.json$/);
  assert.equal(log.runs.length, 1);
  const run = log.runs[0];
  assert.equal(run.tool.driver.name, "bulwark-scan");
  const ruleIds = run.tool.driver.rules.map((x: { id: string }) => x.id);
  assert.equal(new Set(ruleIds).size, ruleIds.length, "rule ids are unique");
  assert.ok(run.results.length >= 2);
  for (const res of run.results) {
    assert.equal(run.tool.driver.rules[res.ruleIndex].id, res.ruleId);
    assert.ok(["error", "warning", "note", "none"].includes(res.level));
    assert.equal(typeof res.message.text, "string");
    assert.equal(res.locations[0].physicalLocation.artifactLocation.uri, sbomPath);
  }
  const demo = run.results.find((x: { ruleId: string }) => x.ruleId === "DEMO-1");
  assert.equal(demo.level, "warning");
  assert.equal(run.tool.driver.rules[demo.ruleIndex].properties["security-severity"], "5.9");
});

test("bad input exits 2 with one readable line on stderr", async () => {
  const cases: string[][] = [
    [],
    [sbomPath],
    [sbomPath, "--osv", pyOsvDir, "--format", "xml"],
    [sbomPath, "--osv", pyOsvDir, "--fail-on", "severe"],
    [sbomPath, "--osv", pyOsvDir, "--bogus"],
    [join(dir, "missing.json"), "--osv", pyOsvDir],
    [join(dir, "bad.json"), "--osv", pyOsvDir],
    [sbomPath, "--osv", join(dir, "missing.tar.gz")],
    [sbomPath, "--osv", pyOsvDir, "--kev", sbomPath],
  ];
  for (const argv of cases) {
    const r = await scan(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.equal(r.out, "");
    assert.match(r.err, /^bulwark scan: \S.*\n/, argv.join(" "));
    assert.ok(r.err.split("\n")[0]!.length < 400);
  }
  const bad = await scan([join(dir, "bad.json"), "--osv", pyOsvDir]);
  assert.match(bad.err, /BW_ERR_SBOM_INVALID/);
});

test("runs in a child process with the exit code as its status", async () => {
  const node = process.execPath;
  const runTs = fileURLToPath(new URL("./run.ts", import.meta.url));
  const script = `import { runScan } from ${JSON.stringify(runTs)}; process.exitCode = await runScan(process.argv.slice(1), process);`;
  const exec = promisify(execFile);
  const ok = await exec(node, [
    "--input-type=module",
    "-e",
    script,
    sbomPath,
    "--osv",
    pyOsvDir,
    "--fail-on",
    "critical",
  ]);
  assert.match(ok.stdout, /DEMO-1/);
  await assert.rejects(
    exec(node, ["--input-type=module", "-e", script, sbomPath, "--osv", pyOsvDir]),
    (e: { code?: number }) => e.code === 1,
  );
});
