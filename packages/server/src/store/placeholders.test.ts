import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { numberPlaceholders } from "./placeholders.ts";

describe("numberPlaceholders", () => {
  it("numbers ? in order", () => {
    assert.equal(
      numberPlaceholders("SELECT * FROM t WHERE a = ? AND b = ?"),
      "SELECT * FROM t WHERE a = $1 AND b = $2",
    );
  });

  it("leaves ? inside literals, quoted identifiers and comments alone", () => {
    assert.equal(
      numberPlaceholders(`SELECT '?', 'it''s ?', "we?ird" FROM t -- why?\nWHERE a = ? /* or ? */ AND b = ?`),
      `SELECT '?', 'it''s ?', "we?ird" FROM t -- why?\nWHERE a = $1 /* or ? */ AND b = $2`,
    );
  });

  it("refuses unterminated literals rather than guessing", () => {
    assert.throws(() => numberPlaceholders("SELECT 'abc WHERE a = ?"), /unterminated string literal/);
    assert.throws(() => numberPlaceholders(`SELECT "abc`), /unterminated quoted identifier/);
    assert.throws(() => numberPlaceholders("SELECT /* x"), /unterminated comment/);
  });
});
