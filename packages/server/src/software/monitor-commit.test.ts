import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { cyclonedx, osvDir, osvRecord, release, tempStore } from "../../test/store-fixtures.ts";
import { type MonitorFlow, type MonitorSummary, SoftwareMonitor } from "./monitor.ts";

const system = { type: "system" } as const;

describe("software monitor: commit listeners", () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let monitor: SoftwareMonitor;
  const heard: { flow: MonitorFlow; summary: MonitorSummary }[] = [];
  before(async () => {
    t = await tempStore();
    monitor = new SoftwareMonitor(t.store);
  });
  after(() => t.close());

  it("tells each listener about every committed flow, with its summary", async () => {
    const stop = monitor.onCommit((flow, summary) => heard.push({ flow, summary }));
    await monitor.importAdvisories(
      osvDir(t.dir, [osvRecord({ id: "GHSA-mc01-0000-0001", name: "left-pad", fixed: "2.0.0" })]),
      system,
    );
    const r = await release(t.store, "thermostat", "1.0.0");
    await monitor.attachSbom(r.id, cyclonedx(["left-pad@1.0.0"]), system);
    assert.deepEqual(
      heard.map((h) => h.flow),
      ["advisories", "sbom"],
    );
    assert.equal(heard[1]!.summary.rematch.created, 1, "the SBOM flow's summary has the new finding");
    stop();
  });

  it("does not call a listener for a refused flow; a throwing listener does not fail the commit", async () => {
    heard.length = 0;
    const errors: unknown[] = [];
    monitor.onCommit(
      () => {
        throw new Error("listener broke");
      },
      (error) => errors.push(error),
    );
    monitor.onCommit((flow, summary) => heard.push({ flow, summary }));
    await assert.rejects(
      monitor.attachSbom("00000000-0000-4000-8000-000000000000", cyclonedx(["a@1"]), system),
      {
        name: BulwarkError.name,
        code: "BW_ERR_NOT_FOUND",
      },
    );
    assert.equal(heard.length, 0, "no commit, no call");
    // Positive control: the next committed flow reaches the listener despite the one that throws.
    const r = await release(t.store, "thermostat", "1.1.0");
    const attached = await monitor.attachSbom(r.id, cyclonedx(["left-pad@1.0.0"]), system);
    assert.equal(attached.rematch.created, 1);
    assert.deepEqual(
      heard.map((h) => h.flow),
      ["sbom"],
    );
    assert.equal((errors[0] as Error).message, "listener broke");
  });
});
