/**
 * CSAF 2.0 validation with the BSI/Secvisogram validator. Importing this module loads the library
 * and compiles its schemas (seconds of CPU): the server imports it only on the validator's worker
 * thread (`validator-pool.ts`), never on the main thread.
 */
import * as mandatory from "@secvisogram/csaf-validator-lib/mandatoryTests.js";
import * as recommended from "@secvisogram/csaf-validator-lib/optionalTests.js";
import { csaf_2_0_strict } from "@secvisogram/csaf-validator-lib/schemaTests.js";
import type { DocumentTest, TestResult } from "@secvisogram/csaf-validator-lib/validate.js";

/** One finding of the validator: the test's name (e.g. `mandatoryTest_6_1_8`), where, and what. */
export interface CsafFinding {
  test: string;
  path: string;
  message: string;
}

export interface CsafValidation {
  /** Schema and mandatory-test errors: any one refuses publication (CSAF 2.0 §9.1.14). */
  errors: CsafFinding[];
  /** Recommended-test (§6.2) warnings and errors: stored with the advisory and shown, never blocking. */
  warnings: CsafFinding[];
  /** How many tests ran. */
  tests: number;
}

// CSAF 2.0 §9.1.14 (conformance clause "CSAF content management system" and §7.1.1 requirement 1):
// a valid CSAF document satisfies the JSON schema (strict: no unknown members) and every
// mandatory test of §6.1. The recommended tests of §6.2 are advice.
const BLOCKING: DocumentTest[] = [csaf_2_0_strict, ...Object.values(mandatory)];
const ADVISORY: DocumentTest[] = Object.values(recommended);

const findings = (r: TestResult, of: "errors" | "warnings"): CsafFinding[] =>
  r[of].map((e) => ({ test: r.name, path: e.instancePath, message: e.message }));

// The library runs its tests back to back with only microtask pauses; a macrotask pause between
// tests lets other requests in, so the longest pause is that of the slowest single test.
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(tests: DocumentTest[], document: unknown): Promise<TestResult[]> {
  const results: TestResult[] = [];
  for (const test of tests) {
    await nextTurn();
    const r = (await test(document)) as Partial<TestResult>;
    results.push({
      name: test.name,
      isValid: typeof r.isValid === "boolean" ? r.isValid : true,
      errors: r.errors ?? [],
      warnings: r.warnings ?? [],
      infos: r.infos ?? [],
    });
  }
  return results;
}

/**
 * Validates a CSAF 2.0 document with the BSI/Secvisogram validator (`@secvisogram/csaf-validator-lib`):
 * the strict JSON schema and the mandatory tests (§6.1) decide; the recommended tests (§6.2) warn.
 */
export async function validateCsaf(document: unknown): Promise<CsafValidation> {
  const blocking = await run(BLOCKING, document);
  const advisory = await run(ADVISORY, document);
  return {
    errors: blocking.flatMap((r) => findings(r, "errors")),
    warnings: [
      ...blocking.flatMap((r) => findings(r, "warnings")),
      ...advisory.flatMap((r) => [...findings(r, "errors"), ...findings(r, "warnings")]),
    ],
    tests: blocking.length + advisory.length,
  };
}
