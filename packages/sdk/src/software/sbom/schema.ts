/**
 * Validation against the official, vendored JSON schemas: CycloneDX 1.2-1.6 (draft-07, with the
 * spdx.schema.json and jsf-0.82.schema.json they reference) and SPDX 2.3 (draft 2019-09). Validators
 * are compiled once, on first use.
 */
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormats from "ajv-formats";
import { SoftwareError } from "../errors.ts";
import { useLinearUniqueItems } from "./unique-items.ts";

export type SchemaId =
  | "cyclonedx-1.2"
  | "cyclonedx-1.3"
  | "cyclonedx-1.4"
  | "cyclonedx-1.5"
  | "cyclonedx-1.6"
  | "spdx-2.3";

const SCHEMA_DIR = new URL("./schemas/", import.meta.url);

function loadSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, SCHEMA_DIR), "utf8")) as Record<string, unknown>;
}

let cyclonedxAjv: Ajv | undefined;

// Formats used by the schemas that ajv-formats does not define. RFC 3987 §2.2: an IRI reference has no
// spaces, controls or the characters <>"{}|\^`; RFC 6531: an internationalised mailbox is local@domain.
// CycloneDX 1.2/1.3 also say "format": "string", which constrains nothing.
function isIriReference(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || '<>"{}|\\^`'.includes(s[i]!)) return false;
  }
  return true;
}

function addExtraFormats(ajv: Ajv | Ajv2019): void {
  ajv.addFormat("iri-reference", { type: "string", validate: isIriReference });
  ajv.addFormat("idn-email", /^[^\s@]+@[^\s@]+$/u);
  ajv.addFormat("string", true);
  useLinearUniqueItems(ajv);
}
const compiled = new Map<SchemaId, ValidateFunction>();

function cdxAjv(): Ajv {
  if (cyclonedxAjv === undefined) {
    // Schemas use non-standard annotation keywords ("meta:enum", "deprecated"), hence strict: false.
    cyclonedxAjv = new Ajv({ strict: false, allErrors: false, validateSchema: false, logger: false });
    addFormats.default(cyclonedxAjv);
    addExtraFormats(cyclonedxAjv);
    // CycloneDX bom-1.x.schema.json: "$ref": "spdx.schema.json" and "jsf-0.82.schema.json#/definitions/signature".
    cyclonedxAjv.addSchema(loadSchema("spdx.schema.json"), "spdx.schema.json");
    cyclonedxAjv.addSchema(loadSchema("jsf-0.82.schema.json"), "jsf-0.82.schema.json");
  }
  return cyclonedxAjv;
}

function validatorFor(id: SchemaId): ValidateFunction {
  const hit = compiled.get(id);
  if (hit !== undefined) return hit;
  let fn: ValidateFunction;
  if (id === "spdx-2.3") {
    const ajv = new Ajv2019({ strict: false, allErrors: false, validateSchema: false, logger: false });
    addFormats.default(ajv);
    addExtraFormats(ajv);
    fn = ajv.compile(loadSchema("spdx-2.3.schema.json"));
  } else {
    fn = cdxAjv().compile(loadSchema(`bom-${id.slice("cyclonedx-".length)}.schema.json`));
  }
  compiled.set(id, fn);
  return fn;
}

function describe(e: ErrorObject): string {
  return `${e.instancePath || "/"} ${e.message ?? "is invalid"}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`;
}

/** Throws BW_ERR_SBOM_INVALID naming the first schema violation's JSON pointer. */
export function validateSchema(id: SchemaId, doc: unknown, source: string | undefined): void {
  const fn = validatorFor(id);
  if (fn(doc)) return;
  const first = fn.errors?.[0];
  const pointer = first?.instancePath || "/";
  throw new SoftwareError(
    "BW_ERR_SBOM_INVALID",
    `does not conform to the ${id} schema: ${first ? describe(first) : "?"}`,
    {
      path: source === undefined ? `#${pointer}` : `${source}#${pointer}`,
    },
  );
}

/** True if the document conforms (for tests and generators). Returns the first error text otherwise. */
export function schemaErrors(id: SchemaId, doc: unknown): string | undefined {
  const fn = validatorFor(id);
  return fn(doc) ? undefined : (fn.errors ?? []).slice(0, 5).map(describe).join("; ");
}
