import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Trees whose files run from a clone: tests, benchmarks, scripts and the packages' sources. */
const TREES = ["test", "bench", "scripts", "packages"];
const SKIP = new Set(["node_modules", "data", ".git"]);
/** The steering folder's test data, named in pieces so this file does not name it whole. */
const SHARED_TESTDATA = ["shared", "testdata"].join("/");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIP.has(entry.name) ? [] : sourceFiles(path);
    return /\.(ts|sh)$/.test(entry.name) ? [path] : [];
  });
}

/** Absolute paths that only exist on some machine (a home, a workspace, a scratch folder). */
const MACHINE_PATH = /["'`](\/(?:work|home|Users|root|mnt|srv|opt)\/[^"'`\s]*|\/tmp\/[A-Za-z][^"'`\s]*)["'`]/;
/** A string literal that is a relative path climbing at least one level. */
const CLIMBING = /["'`]((?:\.\.\/)+[^"'`\s]*)["'`]/g;

/** What in one file's text points outside the repository: `[line, reason]` pairs. */
export function escapes(file: string, text: string, root: string): [number, string][] {
  const found: [number, string][] = [];
  text.split("\n").forEach((line, index) => {
    if (line.includes(SHARED_TESTDATA)) found.push([index + 1, `reads ../${SHARED_TESTDATA}`]);
    const absolute = MACHINE_PATH.exec(line);
    if (absolute) found.push([index + 1, `names the absolute path ${absolute[1]}`]);
    for (const match of line.matchAll(CLIMBING)) {
      // Relative to the file (new URL(x, import.meta.url), imports) and to the root (join(ROOT, x)).
      const fromFile = relative(root, resolve(dirname(file), match[1] as string));
      if (fromFile.startsWith("..")) found.push([index + 1, `${match[1]} leaves the repository`]);
    }
  });
  return found;
}

describe("the repository is self-contained", () => {
  it("flags a read of the shared test data, a machine path and a path that climbs out (positive controls)", () => {
    const file = join(ROOT, "test/e2e/x.test.ts");
    assert.equal(escapes(file, `const d = join(ROOT, "../${SHARED_TESTDATA}/osv");`, ROOT).length, 1);
    assert.equal(escapes(file, `readFileSync("/work/main/test/data/a.json")`, ROOT).length, 1);
    assert.equal(escapes(file, `new URL("../../../up/and/out", import.meta.url)`, ROOT).length, 1);
    assert.deepEqual(escapes(file, `new URL("../data/osv/", import.meta.url)`, ROOT), []);
  });

  it("no test, benchmark, script or package source reads outside the repository", () => {
    // This file's own positive controls name a machine path and a climbing path on purpose.
    const self = fileURLToPath(import.meta.url);
    const files = TREES.flatMap((tree) => sourceFiles(join(ROOT, tree))).filter((file) => file !== self);
    assert.ok(files.length > 100, `found only ${files.length} source files under ${TREES.join(", ")}`);
    const offenders = files.flatMap((file) =>
      escapes(file, readFileSync(file, "utf8"), ROOT).map(
        ([line, why]) => `${relative(ROOT, file)}:${line} ${why}`,
      ),
    );
    assert.deepEqual(offenders, []);
  });
});
