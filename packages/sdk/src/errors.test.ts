import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { BulwarkError, errorCatalogue, toProblem } from "./errors.ts";

describe("error catalogue", () => {
  it("every code is documented in docs/errors.md with its status, and the doc lists no unknown code", () => {
    const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      assert.match(
        doc,
        new RegExp(`\\| \`${code}\` +\\| ${entry.status} +\\|`),
        `${code} is missing from docs/errors.md`,
      );
    }
    const documented = [...doc.matchAll(/\| `(BW_ERR_[A-Z_]+)` +\|/g)].map((m) => m[1]);
    assert.deepEqual(
      documented.filter((c) => !(c! in errorCatalogue)),
      [],
    );
  });

  it("codes are stable BW_ERR_ names and statuses are HTTP error statuses", () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      assert.match(code, /^BW_ERR_[A-Z_]+$/);
      assert.ok(entry.status >= 400 && entry.status < 600);
    }
  });

  it("problem documents carry the catalogue title and never the internal cause", () => {
    const problem = toProblem(
      new BulwarkError("BW_ERR_INTERNAL", undefined, { cause: new Error("secret db path /var/x") }),
      "/x",
    );
    assert.deepEqual(problem, {
      type: "/problems/BW_ERR_INTERNAL",
      title: "Internal error",
      status: 500,
      code: "BW_ERR_INTERNAL",
      instance: "/x",
    });
  });
});
