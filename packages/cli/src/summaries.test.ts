import assert from "node:assert/strict";
import { it } from "node:test";
import { importSummary, sbomSummary } from "./summaries.ts";

const rematch = {
  created: 2,
  reopened: 0,
  resolved: 1,
  updated: 3,
  carriedOver: 0,
  unexploited: 0,
  notifications: 2,
};

it("an SBOM upload is summarised: format, components, minimum elements, findings", () => {
  const text = sbomSummary({
    sbom: {
      id: "s-1",
      format: "cyclonedx",
      specVersion: "1.6",
      name: "gateway",
      components: 412,
      minimumElements: { ntiaConforms: true, bsiConforms: false, gaps: [{}, {}] },
    },
    rematch,
  });
  assert.equal(
    text,
    [
      'SBOM s-1: cyclonedx 1.6 "gateway", 412 component(s)',
      "minimum elements: NTIA yes, BSI TR-03183-2 no (2 gap(s); --json lists them)",
      "findings: 2 new, 0 reopened, 1 resolved, 3 updated; 2 notification(s) queued",
      "",
    ].join("\n"),
  );
});

it("an advisory import and a KEV import are summarised by what changed", () => {
  assert.equal(
    importSummary({ records: 10, inserted: 7, updated: 1, unchanged: 2, withdrawn: 0, packages: 5, rematch }),
    "advisories: 10 record(s): 7 new, 1 updated, 2 unchanged, 0 withdrawn; 5 package(s)\nfindings: 2 new, 0 reopened, 1 resolved, 3 updated; 2 notification(s) queued\n",
  );
  assert.equal(
    importSummary({
      catalogVersion: "2026.12.01",
      entries: 1300,
      added: 4,
      removed: 1,
      rematch: { ...rematch, unexploited: 1, carriedOver: 2 },
    }),
    "KEV catalogue 2026.12.01: 1300 entries (4 added, 1 removed)\nfindings: 2 new, 0 reopened, 1 resolved, 3 updated, 2 triage carried over, 1 no longer known-exploited; 2 notification(s) queued\n",
  );
});
