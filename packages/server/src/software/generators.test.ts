import assert from "node:assert/strict";
import { test } from "node:test";
import { isSoftwareError } from "@bulwark/sdk/software/errors";
import { generateSbom } from "./generators.ts";

const STATEMENT = { creator: { name: "ACME GmbH", contact: "sbom@acme.example" } };
const requirements = (n: number) => Array.from({ length: n }, (_, i) => `pkg-${i}==1.0.${i}`).join("\n");

test("a generator input is bounded like an uploaded SBOM: at most 50,000 packages", () => {
  const made = generateSbom("requirements", requirements(3), "app", "cyclonedx", STATEMENT) as {
    components: unknown[];
  };
  assert.equal(made.components.length, 3, "a small input makes an SBOM");
  assert.throws(
    () => generateSbom("requirements", requirements(50_001), "app", "cyclonedx", STATEMENT),
    (e) =>
      isSoftwareError(e, "BW_ERR_LOCKFILE_INVALID") && /50001 packages, the limit is 50000/.test(e.message),
  );
});
