/**
 * JSON Schema `uniqueItems` checked in linear time. Ajv's own check compares every pair of object
 * items with a deep equality (quadratic: a 20,000-component CycloneDX document took minutes); here
 * each item gets one canonical key and a Set finds the first repeat.
 */
import type { Ajv, SchemaValidateFunction } from "ajv";
import type { Ajv2019 } from "ajv/dist/2019.js";

/**
 * The item as canonical JSON: object members in sorted key order, so two items have the same key
 * exactly when they are equal JSON values (JSON Schema 2019-09 §4.2.2: instance equality).
 */
export function canonicalKey(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalKey).join(",")}]`;
  const o = value as Record<string, unknown>;
  const members = Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalKey(o[k])}`);
  return `{${members.join(",")}}`;
}

/** The indices of the first repeated item (earlier, later), or undefined when all are distinct. */
export function firstDuplicate(items: readonly unknown[]): [number, number] | undefined {
  const seen = new Map<string, number>();
  for (let i = 0; i < items.length; i++) {
    const key = canonicalKey(items[i]);
    const earlier = seen.get(key);
    if (earlier !== undefined) return [earlier, i];
    seen.set(key, i);
  }
  return undefined;
}

const validate: SchemaValidateFunction = function uniqueItems(schema: unknown, data: unknown): boolean {
  if (schema !== true || !Array.isArray(data)) return true;
  const dup = firstDuplicate(data);
  if (dup === undefined) return true;
  // JSON Schema validation 2019-09 §6.4.3 (draft-07 §6.4.3): uniqueItems.
  validate.errors = [
    {
      keyword: "uniqueItems",
      message: `must NOT have duplicate items (items ## ${dup[1]} and ${dup[0]} are identical)`,
      params: { i: dup[1], j: dup[0] },
    },
  ];
  return false;
};

/** Replaces the validator's built-in `uniqueItems` with the linear check. */
export function useLinearUniqueItems(ajv: Ajv | Ajv2019): void {
  ajv.removeKeyword("uniqueItems");
  ajv.addKeyword({ keyword: "uniqueItems", schemaType: "boolean", errors: true, validate });
}
