import assert from "node:assert/strict";
import { test } from "node:test";
import { isSoftwareError } from "../errors.ts";
import { parseSbomText } from "./parse.ts";
import { canonicalKey, firstDuplicate } from "./unique-items.ts";

function cyclonedx(n: number, extra: (i: number) => Record<string, unknown> = () => ({})): string {
  const components = Array.from({ length: n }, (_, i) => ({
    type: "library",
    "bom-ref": `c${i}`,
    name: `pkg-${i}`,
    version: "1.0.0",
    purl: `pkg:npm/pkg-${i}@1.0.0`,
    ...extra(i),
  }));
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    components,
    dependencies: components.map((c) => ({ ref: c["bom-ref"], dependsOn: [] })),
  });
}

/** The fastest of several runs: noise (other processes, GC) only ever adds time. */
function fastestMs(fn: () => void, runs = 5): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

test("canonical keys are equal exactly for equal JSON values, whatever the member order", () => {
  assert.equal(canonicalKey({ a: 1, b: [1, { c: null }] }), canonicalKey({ b: [1, { c: null }], a: 1 }));
  assert.notEqual(canonicalKey({ a: 1 }), canonicalKey({ a: "1" }));
  assert.notEqual(canonicalKey([1, 2]), canonicalKey([2, 1]));
  assert.deepEqual(firstDuplicate([{ x: 1 }, { y: 2 }, { x: 1 }]), [0, 2]);
  assert.equal(firstDuplicate([{ x: 1 }, { x: 2 }]), undefined);
});

test("uniqueItems still refuses a repeated item, naming where it is", () => {
  const doc = JSON.parse(cyclonedx(3)) as { components: unknown[] };
  doc.components.push({ ...(doc.components[1] as object) });
  assert.throws(
    () => parseSbomText(JSON.stringify(doc), { source: "dup.json" }),
    (e) =>
      isSoftwareError(e, "BW_ERR_SBOM_INVALID") &&
      e.path === "dup.json#/components" &&
      /duplicate items \(items ## 3 and 1/.test(e.message),
  );
});

test("schema validation grows linearly with the component count (uniqueItems by key, not by pairs)", () => {
  const small = cyclonedx(2000);
  const large = cyclonedx(16_000);
  // Both sizes once first: the validator is compiled and the code warmed before anything is timed.
  parseSbomText(small);
  parseSbomText(large);
  const ratio = fastestMs(() => parseSbomText(large)) / fastestMs(() => parseSbomText(small));
  // Eight times the components: ~8x when linear, ~64x when every pair is compared (as Ajv's own check did).
  assert.ok(ratio < 32, `16,000 components took ${ratio.toFixed(1)}x as long as 2,000`);
});

test("the component count is bounded before validation, for CycloneDX (nested too) and SPDX", () => {
  const nested = JSON.parse(cyclonedx(3)) as { components: Record<string, unknown>[] };
  nested.components[0]!["components"] = [{ type: "library", "bom-ref": "n1", name: "nested" }];
  const text = JSON.stringify(nested);
  assert.equal(parseSbomText(text, { maxComponents: 4 }).components.length, 4, "at the limit it parses");
  assert.throws(
    () => parseSbomText(text, { maxComponents: 3, source: "n.json" }),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_TOO_LARGE") && /4 components, the limit is 3/.test(e.message),
  );
  const spdx = JSON.stringify({
    spdxVersion: "SPDX-2.3",
    packages: Array.from({ length: 60_001 }, () => ({})),
  });
  assert.throws(
    () => parseSbomText(spdx),
    (e) =>
      isSoftwareError(e, "BW_ERR_SBOM_TOO_LARGE") && /60001 components, the limit is 50000/.test(e.message),
  );
});
