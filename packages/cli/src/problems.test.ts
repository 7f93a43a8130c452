import assert from "node:assert/strict";
import { it } from "node:test";
import { problemLine, validationInWords } from "./problems.ts";

it("schema validation failures are said with the option the user typed", () => {
  const cases: [string, string][] = [
    ["body body/ttlSeconds must be >= 60", "--ttl must be at least 60 seconds"],
    ["body body/ttlSeconds must be <= 2592000", "--ttl must be at most 2592000 seconds"],
    ["body body/maxUses must be integer", "--max-uses must be a whole number"],
    ["body body/expiresInDays must be >= 1", "--expires-in-days must be at least 1 day"],
    [
      "body body/validityDays must be >= 0.0006944444444444445",
      "--validity-days must be at least 0.000694 days",
    ],
    ["body body/expiresInDays must be integer", "--expires-in-days must be a whole number of days"],
    ["body must have required property 'group'", "--group is required"],
    ["querystring querystring/limit must be <= 1000", "--limit must be at most 1000"],
    [
      "querystring querystring/status must be equal to one of the allowed values",
      "--status is not one of the allowed values",
    ],
    ["body body/name must NOT have fewer than 1 characters", "--name must not be empty"],
    ["body body/name must NOT have more than 64 characters", "--name must have at most 64 characters"],
    ['params params/id must match pattern "^[0-9a-f]+$"', "ID is not in the expected form"],
    ["body body/impactStatement must be string", "--impact must be string"],
  ];
  for (const [detail, words] of cases) assert.equal(validationInWords(detail), words, detail);
  assert.equal(validationInWords("no such group"), undefined);
});

it("a command's own words win: `group create NAME` sends `name`", () => {
  assert.equal(
    validationInWords("body body/name must NOT have fewer than 1 characters", { name: { option: "NAME" } }),
    "NAME must not be empty",
  );
});

it("a problem is one line with its code; non-validation details are kept as the server said them", () => {
  assert.equal(
    problemLine({ code: "BW_ERR_VALIDATION", detail: "body body/ttlSeconds must be >= 60" }),
    "--ttl must be at least 60 seconds (BW_ERR_VALIDATION)",
  );
  assert.equal(
    problemLine({
      code: "BW_ERR_VALIDATION",
      detail: "body body/ttlSeconds must be >= 60, body body/maxUses must be integer",
    }),
    "--ttl must be at least 60 seconds; --max-uses must be a whole number (BW_ERR_VALIDATION)",
  );
  assert.equal(
    problemLine({ code: "BW_ERR_VALIDATION", detail: "the body is not valid JSON" }),
    "the body is not valid JSON (BW_ERR_VALIDATION)",
  );
  assert.equal(
    problemLine({ code: "BW_ERR_GROUP_NOT_FOUND", title: "Group not found" }),
    "Group not found (BW_ERR_GROUP_NOT_FOUND)",
  );
});
