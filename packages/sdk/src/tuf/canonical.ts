import { canonicalize } from "@tufjs/canonical-json";
import { TufError } from "./errors.ts";

/**
 * TUF spec §4.1 "Metaformat": signatures and key ids are computed over the OLPC canonical JSON
 * form (http://wiki.laptop.org/go/Canonical_JSON) of an object, encoded as UTF-8. We use
 * `@tufjs/canonical-json`, the encoder tuf-js verifies with, so our bytes and the reference
 * client's agree exactly (see docs/dependencies.md).
 */
export function canonicalBytes(value: unknown): Buffer {
  assertCanonicalisable(value, "$");
  return Buffer.from(canonicalize(value), "utf8");
}

/** OLPC canonical JSON has no floats and no `undefined`; say where the offending value is. */
function assertCanonicalisable(value: unknown, where: string): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw malformed(`${where} is not an integer`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      assertCanonicalisable(item, `${where}[${index}]`);
    });
    return;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      // JavaScript sorts keys by UTF-16 code unit, Python (securesystemslib) by code point: the two
      // orders differ only for characters beyond U+FFFF, so such keys are refused, not mis-signed.
      if (/[\uD800-\uDFFF]/.test(key))
        throw malformed(`${where}: key "${key}" has a character beyond U+FFFF`);
      assertCanonicalisable(item, `${where}.${key}`);
    }
    return;
  }
  throw malformed(`${where} cannot be encoded as canonical JSON`);
}

function malformed(message: string): TufError {
  return new TufError("TUF_MALFORMED", message);
}
