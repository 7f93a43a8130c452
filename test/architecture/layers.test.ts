import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixture/", import.meta.url));

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Runs the project's dependency rules (as `npm run depcruise` does) over `dir`; returns the violations. */
function cruise(dir: string, targets: string[]): string[] {
  const out = execFileSync(
    process.execPath,
    [
      "--import",
      `${ROOT}tools/depcruise/typescript-6.ts`,
      `${ROOT}node_modules/dependency-cruiser/bin/dependency-cruiser.mjs`,
      "--config",
      `${ROOT}tools/depcruise/.dependency-cruiser.cjs`,
      "--output-type",
      "json",
      ...targets,
    ],
    { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 },
  ).toString();
  const result = JSON.parse(out) as { summary: { violations: Violation[] } };
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

describe("dependency rules (tools/depcruise/.dependency-cruiser.cjs)", () => {
  // Positive control: each rule fires once on the fixture (a cycle is reported once, from one of
  // its files; type-only imports count), and the imports that keep the rules are not flagged.
  it("flag each broken rule of the fixture, and nothing that keeps them", () => {
    const S = "packages/server/src";
    assert.deepEqual(cruise(FIXTURE, ["packages"]), [
      `agent-not-server: packages/agent/src/agent.ts -> ${S}/fleet/devices.ts`,
      `composition-root-imported: ${S}/fleet/devices.ts -> ${S}/app.ts`,
      `folder-without-layer: ${S}/gadgets/gadget.ts -> ${S}/store/store.ts`,
      `layer-1-store-types: ${S}/store/store.ts -> ${S}/audit/audit-log.ts`,
      `no-circular: ${S}/audit/audit-log.ts -> ${S}/store/store.ts`,
      `no-circular: ${S}/pki/ca.ts -> ${S}/pki/cross-certificate.ts`,
      `sdk-stands-alone: packages/sdk/src/index.ts -> ${S}/store/store.ts`,
    ]);
  });

  it("hold for the repository (npm run depcruise)", () => {
    assert.deepEqual(cruise(ROOT, ["packages", "test", "scripts", "bench", "tools"]), []);
  });
});
