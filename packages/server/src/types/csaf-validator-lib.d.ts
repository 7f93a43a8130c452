// The package ships no types; this is the part of its API the CSAF tests use.
declare module "@secvisogram/csaf-validator-lib/validate.js" {
  export interface TestResult {
    name: string;
    isValid: boolean;
    errors: { instancePath: string; message: string }[];
    warnings: { instancePath: string; message: string }[];
    infos: { instancePath: string; message: string }[];
  }
  export type DocumentTest = (doc: unknown) => unknown;
  export default function validate(
    tests: DocumentTest[],
    doc: unknown,
  ): Promise<{ isValid: boolean; tests: TestResult[] }>;
}

declare module "@secvisogram/csaf-validator-lib/extended.js" {
  import type { DocumentTest } from "@secvisogram/csaf-validator-lib/validate.js";

  const tests: Record<string, DocumentTest>;
  export = tests;
}

// Schema (CSAF 2.0 §9.1.14 conformance: the JSON schema), mandatory (§6.1) and recommended (§6.2,
// "optional" in the library's naming) tests, as separate sets for publication-time validation.
declare module "@secvisogram/csaf-validator-lib/schemaTests.js" {
  import type { DocumentTest } from "@secvisogram/csaf-validator-lib/validate.js";

  export const csaf_2_0: DocumentTest;
  export const csaf_2_0_strict: DocumentTest;
}

declare module "@secvisogram/csaf-validator-lib/mandatoryTests.js" {
  import type { DocumentTest } from "@secvisogram/csaf-validator-lib/validate.js";

  const tests: Record<string, DocumentTest>;
  export = tests;
}

declare module "@secvisogram/csaf-validator-lib/optionalTests.js" {
  import type { DocumentTest } from "@secvisogram/csaf-validator-lib/validate.js";

  const tests: Record<string, DocumentTest>;
  export = tests;
}
