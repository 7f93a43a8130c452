import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  advertisedText,
  appliedFormats,
  type DeltaNeed,
  deltaUnsupportedReason,
  missingFormats,
  unableDevices,
} from "./delta-capability.ts";

const seg: DeltaNeed = { policy: "require", formats: ["zstd-seg"] };
const dict: DeltaNeed = { policy: "require", formats: ["zstd-dict"] };
const both: DeltaNeed = { policy: "require", formats: ["zstd-dict", "zstd-seg"] };

describe("which agents can apply a release's deltas (issue #15 item 10)", () => {
  it("an agent that advertises nothing is taken to apply zstd-dict only; an empty list applies none", () => {
    assert.deepEqual(appliedFormats(null), ["zstd-dict"]);
    assert.deepEqual(appliedFormats(undefined), ["zstd-dict"]);
    assert.deepEqual(appliedFormats([]), []);
    assert.deepEqual(missingFormats(dict, null), []);
    assert.deepEqual(missingFormats(seg, null), ["zstd-seg"]);
    assert.deepEqual(missingFormats(dict, []), ["zstd-dict"]);
  });

  it("a device must apply every format of the release's deltas (it cannot be told which base it has)", () => {
    assert.deepEqual(missingFormats(both, ["zstd-seg"]), ["zstd-dict"]);
    assert.deepEqual(missingFormats(both, ["zstd-dict"]), ["zstd-seg"]);
    assert.deepEqual(missingFormats(both, ["zstd-seg", "zstd-dict", "zstd-later"]), []);
  });

  it("picks out the devices that cannot; a release without deltas leaves no one out", () => {
    const devices = [
      { id: "old", deltaFormats: null },
      { id: "dict", deltaFormats: ["zstd-dict"] },
      { id: "new", deltaFormats: ["zstd-dict", "zstd-seg"] },
      { id: "none", deltaFormats: [] },
    ];
    assert.deepEqual(
      unableDevices(seg, devices).map((d) => d.id),
      ["old", "dict", "none"],
    );
    assert.deepEqual(
      unableDevices(dict, devices).map((d) => d.id),
      ["none"],
    );
    assert.deepEqual(unableDevices({ policy: "require", formats: [] }, devices), []);
  });

  it("says what happens to them under each policy", () => {
    assert.equal(deltaUnsupportedReason(seg, 0), null);
    assert.match(
      deltaUnsupportedReason(seg, 2)!,
      /^2 device\(s\) whose agent cannot apply zstd-seg deltas .* are left out: the deployment requires a delta; each is taken in once its agent advertises the format/,
    );
    assert.match(
      deltaUnsupportedReason({ ...seg, policy: "prefer" }, 1)!,
      /^1 device\(s\) whose agent cannot apply zstd-seg deltas .* take the full image$/,
    );
    assert.equal(advertisedText(null), "none advertised, zstd-dict assumed");
    assert.equal(advertisedText([]), "no delta format");
    assert.equal(advertisedText(["zstd-dict"]), "zstd-dict");
  });
});
