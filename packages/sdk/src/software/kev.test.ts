import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { isSoftwareError } from "./errors.ts";
import { parseKevCatalog, readKevCatalog } from "./kev.ts";

const KEV = fileURLToPath(
  new URL("../../../../test/data/kev/known_exploited_vulnerabilities.json.gz", import.meta.url),
);

test("the real CISA KEV catalogue reads completely", async () => {
  const kev = await readKevCatalog(KEV);
  assert.equal(kev.catalogVersion, "2025.08.25");
  assert.equal(kev.entries.size, 1404);
  const git = kev.entries.get("CVE-2025-48384");
  assert.equal(git?.dateAdded, "2025-08-25");
  assert.equal(git?.vendorProject, "Git");
});

test("malformed catalogues are rejected with a path", () => {
  const base = { catalogVersion: "1", dateReleased: "d", count: 1 };
  assert.throws(
    () => parseKevCatalog({ ...base, vulnerabilities: [{ cveID: "nope" }] }),
    (e) => isSoftwareError(e, "BW_ERR_KEV_INVALID") && e.path === "kev#/vulnerabilities/0/cveID",
  );
  assert.throws(
    () => parseKevCatalog({ ...base, count: 2, vulnerabilities: [] }),
    (e) => isSoftwareError(e, "BW_ERR_KEV_INVALID"),
  );
  assert.throws(
    () => parseKevCatalog([]),
    (e) => isSoftwareError(e, "BW_ERR_KEV_INVALID"),
  );
});
