import assert from "node:assert/strict";
import { test } from "node:test";
import { isSoftwareError } from "../errors.ts";
import { parseOsvText, validateOsvRecord } from "./parse.ts";
import { compileAffected, fixedVersions, isAffected, isAffectedCompiled } from "./ranges.ts";
import type { OsvAffected } from "./types.ts";

function affected(ecosystem: string, ranges: unknown[], versions: string[] = []): OsvAffected {
  const rec = validateOsvRecord({
    id: "TEST-1",
    modified: "2024-01-01T00:00:00Z",
    affected: [{ package: { ecosystem, name: "pkg" }, ranges, versions }],
  });
  return rec.affected[0]!;
}

test("introduced/fixed timeline with several intervals, introduced 0", () => {
  const a = affected("npm", [
    {
      type: "SEMVER",
      events: [{ introduced: "0" }, { fixed: "1.0.0" }, { introduced: "2.0.0" }, { fixed: "2.1.0" }],
    },
  ]);
  const c = compileAffected(a);
  const cases: [string, boolean][] = [
    ["0.0.1", true],
    ["0.9.9", true],
    ["1.0.0-rc.1", true],
    ["1.0.0", false],
    ["1.5.0", false],
    ["2.0.0", true],
    ["2.0.9", true],
    ["2.1.0", false],
    ["3.0.0", false],
  ];
  for (const [v, want] of cases) assert.equal(isAffectedCompiled(c, v), want, v);
  assert.deepEqual(fixedVersions(a), ["1.0.0", "2.1.0"]);
});

test("events are evaluated in version order, not the order written", () => {
  const a = affected("PyPI", [{ type: "ECOSYSTEM", events: [{ fixed: "1.10" }, { introduced: "1.2" }] }]);
  assert.equal(isAffected(a, "1.9"), true);
  assert.equal(isAffected(a, "1.10"), false);
  assert.equal(isAffected(a, "1.1"), false);
});

test("last_affected is inclusive", () => {
  const a = affected("Go", [
    { type: "SEMVER", events: [{ introduced: "1.2.0" }, { last_affected: "1.4.0" }] },
  ]);
  assert.equal(isAffected(a, "v1.4.0"), true);
  assert.equal(isAffected(a, "v1.4.1"), false);
  assert.equal(isAffected(a, "v1.1.9"), false);
});

test("limit events bound the range (matched wrongly by matchers that ignore limit)", () => {
  // OSV schema §Evaluation BeforeLimits: a version at or above every limit is not in the range.
  const a = affected("PyPI", [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { limit: "2.0" }] }]);
  assert.equal(isAffected(a, "1.9"), true);
  assert.equal(isAffected(a, "2.0"), false);
  assert.equal(isAffected(a, "5.0"), false);
  // Several limits: below any of them is enough.
  const b = affected("npm", [
    { type: "SEMVER", events: [{ introduced: "1.0.0" }, { limit: "1.5.0" }, { limit: "3.0.0" }] },
  ]);
  assert.equal(isAffected(b, "2.0.0"), true);
  assert.equal(isAffected(b, "3.0.0"), false);
  assert.equal(isAffected(b, "0.9.0"), false);
  // "*" is infinity.
  const c = affected("npm", [{ type: "SEMVER", events: [{ introduced: "1.0.0" }, { limit: "*" }] }]);
  assert.equal(isAffected(c, "99.0.0"), true);
});

test("a GIT range listed first does not hide later ECOSYSTEM ranges", () => {
  const a = affected(
    "PyPI",
    [
      { type: "GIT", repo: "https://example.org/r.git", events: [{ introduced: "0" }, { fixed: "abc123" }] },
      { type: "GIT", repo: "https://example.org/s.git", events: [{ introduced: "0" }, { fixed: "def456" }] },
      { type: "ECOSYSTEM", events: [{ introduced: "1.0" }, { fixed: "1.3" }] },
    ],
    ["0.4.0"],
  );
  assert.equal(isAffected(a, "1.2"), true, "the ECOSYSTEM range must be evaluated");
  assert.equal(isAffected(a, "1.3"), false);
  assert.equal(isAffected(a, "0.4.0"), true, "GIT ranges count through the versions list");
  assert.equal(isAffected(a, "0.5.0"), false, "GIT commits never match a version by themselves");
  assert.deepEqual(fixedVersions(a), ["1.3"]);
});

test("any range saying affected is enough", () => {
  const a = affected("Maven", [
    { type: "ECOSYSTEM", events: [{ introduced: "1.0" }, { fixed: "1.1" }] },
    { type: "ECOSYSTEM", events: [{ introduced: "2.0-beta-1" }, { fixed: "2.0.2" }] },
  ]);
  assert.equal(isAffected(a, "1.0.5"), true);
  assert.equal(isAffected(a, "1.5"), false);
  assert.equal(isAffected(a, "2.0"), true);
  assert.equal(isAffected(a, "2.0.2"), false);
});

test("versions list matches with the ecosystem's equality, as ranges compare (PEP 440 for PyPI)", () => {
  const a = affected("PyPI", [], ["1.0.0", "2.0rc1"]);
  assert.equal(isAffected(a, "1.0.0"), true);
  assert.equal(isAffected(a, "2.0-RC-1"), true);
  assert.equal(isAffected(a, "1.0.1"), false);
  const b = affected("npm", [], ["1.0.0"]);
  assert.equal(isAffected(b, "1.0.0"), true);
  // SemVer 2.0.0 §10: build metadata does not change precedence, so a range starting at 1.0.0
  // includes 1.0.0+build, and the versions list now agrees with it.
  assert.equal(isAffected(b, "1.0.0+build"), true);
  assert.equal(isAffected(b, "1.0.1"), false);
});

test("a Go purl version with the v prefix matches the OSV versions list (issue #14)", () => {
  // Go vulndb OSV lists versions without the "v" that Go module versions (and purls) carry.
  const go = affected("Go", [], ["4.2.9", "4.2.10"]);
  assert.equal(isAffected(go, "v4.2.10"), true);
  assert.equal(isAffected(go, "4.2.10"), true);
  assert.equal(isAffected(go, "v4.2.11"), false);
  const range = affected("Go", [{ type: "SEMVER", events: [{ introduced: "4.2.10" }, { fixed: "4.2.11" }] }]);
  assert.equal(isAffected(range, "v4.2.10"), true, "the range and the list agree");
  // The same in other ecosystems: equal in their order is listed.
  assert.equal(isAffected(affected("Maven", [], ["1.0"]), "1.0.0"), true, "Maven: trailing zeros");
  assert.equal(isAffected(affected("Debian:12", [], ["1.2-1"]), "0:1.2-1"), true, "dpkg: epoch 0");
  assert.equal(isAffected(affected("RubyGems", [], ["1.0.0"]), "1.0"), true, "RubyGems: trailing zeros");
  assert.equal(isAffected(affected("crates.io", [], ["0.3.1"]), "0.3.2"), false, "different stays different");
});

test("a versions entry that does not parse in its ecosystem makes the record invalid, as a range does", () => {
  const bad = affected("Debian:12", [], ["1.0-1", "x:1.0-1"]);
  assert.throws(
    () => isAffected(bad, "1.0-1"),
    (e) => isSoftwareError(e, "BW_ERR_OSV_INVALID") && /versions\/1$/.test(e.path ?? ""),
  );
});

test("Debian ECOSYSTEM ranges use dpkg order", () => {
  const a = affected("Debian:12", [
    { type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1:2.3-1~deb12u1" }] },
  ]);
  assert.equal(isAffected(a, "1:2.3-0"), true);
  assert.equal(isAffected(a, "1:2.3-1~deb12u1"), false);
  assert.equal(isAffected(a, "2.9"), true, "no epoch is epoch 0");
});

test("invalid records are rejected with the path of the problem", () => {
  const bad: [unknown, string][] = [
    [{ modified: "x" }, "/id"],
    [{ id: "X", modified: "x", affected: {} }, "/affected"],
    [
      { id: "X", modified: "x", affected: [{ ranges: [{ type: "WEIRD", events: [] }] }] },
      "/affected/0/ranges/0/type",
    ],
    [
      {
        id: "X",
        modified: "x",
        affected: [{ ranges: [{ type: "SEMVER", events: [{ introduced: "1", fixed: "2" }] }] }],
      },
      "/affected/0/ranges/0/events/0",
    ],
    [
      { id: "X", modified: "x", affected: [{ ranges: [{ type: "SEMVER", events: [{ fixed: "2" }] }] }] },
      "/affected/0/ranges/0/events",
    ],
    [
      { id: "X", modified: "x", affected: [{ ranges: [{ type: "GIT", events: [{ introduced: "0" }] }] }] },
      "/affected/0/ranges/0/repo",
    ],
    [{ id: "X", modified: "x", aliases: ["a", 3] }, "/aliases/1"],
  ];
  for (const [doc, path] of bad) {
    assert.throws(
      () => validateOsvRecord(doc, "f.json"),
      (e) => isSoftwareError(e, "BW_ERR_OSV_INVALID") && e.path === `f.json#${path}`,
      JSON.stringify(doc),
    );
  }
});

test("YAML records parse; extra database_specific data is ignored; withdrawn and aliases are exposed", () => {
  const rec = parseOsvText(
    [
      "id: PYSEC-0000-1",
      "modified: 2023-06-27T18:49:56.911238Z",
      "withdrawn: 2023-06-06T10:37:00Z",
      "aliases: [CVE-2023-0001, GHSA-xxxx-yyyy-zzzz]",
      "database_specific: {anything: [1, {deep: true}]}",
      "affected:",
      "- package: {ecosystem: PyPI, name: redis}",
      "  ecosystem_specific: {whatever: 1}",
      "  ranges:",
      "  - type: ECOSYSTEM",
      "    events: [{introduced: '0'}, {fixed: 4.5.5}]",
    ].join("\n"),
    "yaml",
    "x.yaml",
  );
  assert.equal(rec.withdrawn, "2023-06-06T10:37:00Z");
  assert.equal(rec.modified, "2023-06-27T18:49:56.911238Z");
  assert.deepEqual(rec.aliases, ["CVE-2023-0001", "GHSA-xxxx-yyyy-zzzz"]);
  assert.equal(isAffected(rec.affected[0]!, "4.5.4"), true);
  assert.throws(
    () => parseOsvText("{", "json", "y.json"),
    (e) => isSoftwareError(e, "BW_ERR_OSV_INVALID") && e.path === "y.json",
  );
});

test("an OSV JSON record nested deeper than 64 levels is refused before it is parsed", () => {
  const deep = `{"id": "X", "modified": "2024-01-01T00:00:00Z", "database_specific": ${"[".repeat(100)}${"]".repeat(100)}}`;
  assert.throws(
    () => parseOsvText(deep, "json", "deep.json"),
    (e) =>
      isSoftwareError(e, "BW_ERR_OSV_INVALID") &&
      /nested too deeply/.test(e.message) &&
      e.path === "deep.json",
  );
  const shallow = `{"id": "X", "modified": "2024-01-01T00:00:00Z", "database_specific": ${"[".repeat(10)}${"]".repeat(10)}}`;
  assert.equal(parseOsvText(shallow, "json").id, "X");
});
