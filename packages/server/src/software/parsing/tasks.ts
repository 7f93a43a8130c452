/**
 * The parsing work done on untrusted documents (SBOMs, generator inputs, the KEV catalogue, OSV
 * bundles), as plain data in and out so that it can run on a worker thread. Errors travel as data
 * too: a thread boundary keeps an error's message but not its class or fields.
 */
import { isSoftwareError, SoftwareError, type SoftwareErrorCode } from "@bulwark/sdk/software/errors";
import { type KevCatalog, readKevCatalog } from "@bulwark/sdk/software/kev";
import type { SbomLimits } from "@bulwark/sdk/software/sbom/bounds";
import {
  checkMinimumElements,
  type MinimumElementsReport,
} from "@bulwark/sdk/software/sbom/minimum-elements";
import type { SbomDocument } from "@bulwark/sdk/software/sbom/model";
import { parseSbomText } from "@bulwark/sdk/software/sbom/parse";
import {
  type GenerateStatement,
  type GeneratorFormat,
  type GeneratorInput,
  generateSbom,
} from "../generators.ts";
import { type PackedSbom, packRawSbom } from "../sbom-raw.ts";

export type ParseTask =
  | { kind: "sbom"; text: string; source: string; limits: SbomLimits }
  | {
      kind: "generate";
      from: GeneratorInput;
      text: string;
      subject: string;
      format: GeneratorFormat;
      statement: GenerateStatement;
    }
  | { kind: "kev"; path: string };

/** A validated SBOM with its minimum-elements report and its packed original (made where it was parsed). */
export interface ParsedSbom {
  document: SbomDocument;
  minimumElements: MinimumElementsReport;
  original: PackedSbom;
}

export type ParseValue<T extends ParseTask> = T extends { kind: "sbom" }
  ? ParsedSbom
  : T extends { kind: "kev" }
    ? KevCatalog
    : unknown;

export interface SerializedError {
  code: SoftwareErrorCode | undefined;
  message: string;
  path: string | undefined;
  detail: string | undefined;
}

export type TaskOutcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

export async function runTask<T extends ParseTask>(task: T): Promise<ParseValue<T>> {
  switch (task.kind) {
    case "sbom": {
      const document = parseSbomText(task.text, { ...task.limits, source: task.source });
      return {
        document,
        minimumElements: checkMinimumElements(document),
        original: packRawSbom(task.text),
      } as ParseValue<T>;
    }
    case "generate":
      return generateSbom(task.from, task.text, task.subject, task.format, task.statement) as ParseValue<T>;
    case "kev":
      return (await readKevCatalog(task.path)) as ParseValue<T>;
    default: {
      const never: never = task;
      throw new Error(`unreachable parse task ${JSON.stringify(never)}`);
    }
  }
}

export function serializeError(e: unknown): SerializedError {
  if (isSoftwareError(e))
    return {
      code: e.code,
      // The class adds "CODE: " in front and " (at path)" behind; both are rebuilt from the fields.
      message: e.message.replace(/^BW_ERR_[A-Z_]+: /, "").replace(/ \(at .*\)$/, ""),
      path: e.path,
      detail: e.detail,
    };
  return { code: undefined, message: (e as Error)?.message ?? String(e), path: undefined, detail: undefined };
}

export function deserializeError(e: SerializedError): Error {
  if (e.code === undefined) return new Error(e.message);
  return new SoftwareError(e.code, e.message, { path: e.path, detail: e.detail });
}

/** Runs a task and reports its outcome as data (what the worker sends back). */
export async function settle<T extends ParseTask>(task: T): Promise<TaskOutcome<ParseValue<T>>> {
  try {
    return { ok: true, value: await runTask(task) };
  } catch (e) {
    return { ok: false, error: serializeError(e) };
  }
}
