import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { isSoftwareError } from "../errors.ts";
import { normalizePypiVersion } from "./pypi.ts";
import { compareVersions, ecosystemScheme, normalizeVersion } from "./registry.ts";

const DIR = new URL("../../../../../test/data/version-order/", import.meta.url);

// Which OSV ecosystems each vector file exercises (the files name their scheme).
const FILE_ECOSYSTEMS: Record<string, string[]> = {
  semver: ["npm", "Go", "crates.io", "Hex"],
  pypi: ["PyPI"],
  maven: ["Maven"],
  debian: ["Debian:12", "Ubuntu"],
  alpine: ["Alpine:v3.19"],
  redhat: ["Red Hat", "Rocky Linux", "AlmaLinux"],
  rubygems: ["RubyGems"],
  nuget: ["NuGet"],
  packagist: ["Packagist"],
  pub: ["Pub"],
  cran: ["CRAN"],
  hackage: ["Hackage"],
};

const EXPECTED: Record<string, number> = { "<": -1, "=": 0, ">": 1 };

test("every line of every version-order vector file orders as stated", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".txt"));
  assert.ok(files.length >= 19, `expected the vector files, found ${files.length}`);
  const misses: string[] = [];
  const summary: string[] = [];
  for (const file of files) {
    const scheme = file.replace(/-versions(-generated)?\.txt$/, "");
    const ecosystems = FILE_ECOSYSTEMS[scheme];
    assert.ok(ecosystems, `no ecosystem mapped for ${file}`);
    const lines = readFileSync(new URL(file, DIR), "utf8").split("\n");
    let checked = 0;
    for (const [n, line] of lines.entries()) {
      if (line === "" || line.startsWith("# ") || line.startsWith("// ")) continue;
      const parts = line.split(" ");
      assert.equal(parts.length, 3, `${file}:${n + 1}: malformed vector ${JSON.stringify(line)}`);
      const [a, op, b] = parts as [string, string, string];
      const want = EXPECTED[op];
      assert.notEqual(want, undefined, `${file}:${n + 1}: unknown operator ${op}`);
      for (const eco of ecosystems) {
        const ab = compareVersions(eco, a, b);
        const ba = compareVersions(eco, b, a);
        if (ab !== want || ba !== -want!) misses.push(`${file}:${n + 1} [${eco}] ${line} (got ${ab}/${ba})`);
        checked++;
      }
    }
    summary.push(`${file}: ${checked} checks`);
  }
  console.log(summary.join("\n"));
  assert.deepEqual(misses, [], `${misses.length} vector misses:\n${misses.slice(0, 200).join("\n")}`);
});

test("unknown ecosystems are an explicit error, suffixed ecosystems resolve to their base", () => {
  assert.equal(ecosystemScheme("Debian:12"), "debian");
  assert.equal(ecosystemScheme("Alpine:v3.19"), "alpine");
  assert.equal(ecosystemScheme("AlmaLinux:9"), "rpm");
  assert.equal(ecosystemScheme("toString"), undefined);
  assert.throws(
    () => compareVersions("NoSuchEcosystem", "1", "2"),
    (e) => isSoftwareError(e, "BW_ERR_ECOSYSTEM_UNSUPPORTED"),
  );
});

test("invalid versions raise BW_ERR_VERSION_INVALID where the scheme has a grammar", () => {
  assert.throws(
    () => compareVersions("Debian", "1.2.3", "x:1.0"),
    (e) => isSoftwareError(e, "BW_ERR_VERSION_INVALID"),
  );
  assert.throws(
    () => compareVersions("CRAN", "1.0", "1.a"),
    (e) => isSoftwareError(e, "BW_ERR_VERSION_INVALID"),
  );
  assert.throws(
    () => compareVersions("Hackage", "1.0", "1.0-beta"),
    (e) => isSoftwareError(e, "BW_ERR_VERSION_INVALID"),
  );
});

test("PEP 440 normalisation produces the canonical text", () => {
  const cases: [string, string][] = [
    ["1.0", "1.0"],
    ["v1.0", "1.0"],
    ["1.0-alpha1", "1.0a1"],
    ["1.0.PREVIEW.2", "1.0rc2"],
    ["1.0-1", "1.0.post1"],
    ["1.0_rev3", "1.0.post3"],
    ["1!01.002dev", "1!1.2.dev0"],
    ["0!1.0+Ubuntu-1_2", "1.0+ubuntu.1.2"],
  ];
  for (const [input, want] of cases) assert.equal(normalizePypiVersion(input), want, input);
});

test("equality keys (SemVer, PyPI) are equal exactly when the comparator says equal, on every vector", () => {
  const misses: string[] = [];
  for (const [file, ecosystem] of [
    ["semver-versions.txt", "Go"],
    ["pypi-versions.txt", "PyPI"],
    ["pypi-versions-generated.txt", "PyPI"],
  ] as const) {
    const versions = new Set<string>();
    for (const line of readFileSync(new URL(file, DIR), "utf8").split("\n")) {
      if (line === "" || line.startsWith("# ") || line.startsWith("// ")) continue;
      const [a, , b] = line.split(" ") as [string, string, string];
      versions.add(a).add(b);
    }
    // Every pair of neighbours in the comparator's order, and each with itself spelled differently.
    const sorted = [...versions].sort((a, b) => compareVersions(ecosystem, a, b));
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [sorted[i - 1]!, sorted[i]!];
      const equal = compareVersions(ecosystem, a, b) === 0;
      if (equal !== (normalizeVersion(ecosystem, a) === normalizeVersion(ecosystem, b)))
        misses.push(
          `${file}: ${a} ${equal ? "=" : "<"} ${b} but keys ${normalizeVersion(ecosystem, a)} / ${normalizeVersion(ecosystem, b)}`,
        );
    }
  }
  assert.deepEqual(misses, []);
  assert.equal(normalizeVersion("Go", "v4.2.10"), normalizeVersion("Go", "4.2.10"));
  assert.equal(normalizeVersion("npm", "1.0.0+build.7"), normalizeVersion("npm", "1.0.0"));
  assert.equal(normalizeVersion("PyPI", "1.0"), normalizeVersion("PyPI", "1.0.0"));
  assert.notEqual(normalizeVersion("PyPI", "1.0"), normalizeVersion("PyPI", "1.0.post0"));
  assert.equal(normalizeVersion("Maven", "1.0"), "1.0", "schemes without a key keep the text");
});
