import assert from "node:assert/strict";
import { test } from "node:test";
import { isSoftwareError } from "../errors.ts";
import { bestCvss, ratingOf, scoreCvss } from "./cvss.ts";

// Base scores of vectors published in the FIRST CVSS v2/v3.1/v4.0 documents and their calculators.
const PUBLISHED: [string, number][] = [
  ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
  ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0],
  ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
  ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
  ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9],
  ["CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0],
  ["AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5],
  ["AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0],
];

test("CVSS base scores match published example vectors", () => {
  for (const [vector, want] of PUBLISHED) assert.equal(scoreCvss(vector).baseScore, want, vector);
  assert.equal(scoreCvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").rating, "critical");
  assert.equal(scoreCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N").rating, "none");
});

test("qualitative rating boundaries (CVSS v3.1 §5)", () => {
  assert.deepEqual([0, 0.1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(ratingOf), [
    "none",
    "low",
    "low",
    "medium",
    "medium",
    "high",
    "high",
    "critical",
    "critical",
  ]);
});

test("malformed vectors are rejected, not scored", () => {
  for (const bad of [
    "CVSS:3.1/AV:N",
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
    "CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    "hello",
  ]) {
    assert.throws(
      () => scoreCvss(bad),
      (e) => isSoftwareError(e, "BW_ERR_CVSS_INVALID"),
      bad,
    );
  }
});

test("bestCvss picks the highest scorable CVSS entry and skips others", () => {
  const best = bestCvss([
    { type: "Ubuntu", score: "high" },
    { type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N" },
    { type: "CVSS_V3", score: "garbage" },
    { type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" },
  ]);
  assert.equal(best?.version, "4.0");
  assert.equal(best?.baseScore, 9.3);
  assert.equal(bestCvss([{ type: "Ubuntu", score: "high" }]), undefined);
});
