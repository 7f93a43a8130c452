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
