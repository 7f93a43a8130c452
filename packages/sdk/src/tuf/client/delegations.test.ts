import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { type Fixture, fixture, keyring } from "../../../test/tuf-fixtures.ts";
import { isTufError } from "../errors.ts";
import { matchesHashPrefix, matchesPathPattern } from "../layout.ts";
import type { DelegationSpec } from "../repository/repository.ts";

describe('PATHPATTERN matching (TUF spec §4.5 "paths")', () => {
  it("follows the specification's examples: wildcards never cross a '/'", () => {
    assert.ok(matchesPathPattern("targets/foo.tgz", "targets/*.tgz"));
    assert.ok(!matchesPathPattern("targets/foo.txt", "targets/*.tgz"));
    assert.ok(matchesPathPattern("foo-version-2.tgz", "foo-version-?.tgz"));
    assert.ok(!matchesPathPattern("foo-version-alpha.tgz", "foo-version-?.tgz"));
    assert.ok(matchesPathPattern("foo.tgz", "*.tgz"));
    assert.ok(!matchesPathPattern("targets/foo.tgz", "*.tgz"));
    assert.ok(matchesPathPattern("foo.tgz", "foo.tgz") && !matchesPathPattern("foo.tgzz", "foo.tgz"));
    assert.ok(!matchesPathPattern("a+b.bin", "a.b.bin") && matchesPathPattern("a+b.bin", "a+b.bin"));
  });

  it("matches path hash prefixes on the SHA-256 of the path", () => {
    const hex = createHash("sha256").update("firmware/a.bin").digest("hex");
    assert.ok(matchesHashPrefix("firmware/a.bin", [hex.slice(0, 2)]));
    assert.ok(!matchesHashPrefix("firmware/a.bin", [hex[0] === "0" ? "1" : "0"]));
  });
});

/** Publish delegations, each with its own key, and targets listed by chosen roles. */
async function delegated(
  specs: Omit<DelegationSpec, "keys" | "threshold">[],
  targets: [string, string][],
): Promise<Fixture> {
  const f = await fixture();
  const signers = { ...f.signers };
  for (const spec of specs) {
    const ring = keyring(1);
    f.repo.delegate({ ...spec, keys: ring.keys, threshold: 1 });
    signers[spec.name] = ring.signers;
  }
  for (const [path, role] of targets) f.addTarget(path, Buffer.from(`${role}:${path}`), undefined, role);
  await f.repo.publish(signers);
  f.serve();
  return f;
}

describe("delegation search (TUF spec §5.6.7)", () => {
  it("finds a component's target through its delegated role and downloads it", async () => {
    const f = await delegated(
      [{ name: "component-app", paths: ["app/*"] }],
      [["app/app-2.bin", "component-app"]],
    );
    const updater = f.updater();
    await updater.refresh();
    const info = await updater.getTargetInfo("app/app-2.bin");
    assert.equal(info?.role, "component-app");
    assert.equal((await updater.downloadTarget(info!)).toString(), "component-app:app/app-2.bin");
  });

  it("does not trust a delegated role for paths outside its patterns", async () => {
    const f = await delegated(
      [{ name: "component-app", paths: ["app/*"] }],
      [
        ["app/app-2.bin", "component-app"],
        ["firmware/evil.bin", "component-app"],
      ],
    );
    const updater = f.updater();
    await updater.refresh();
    assert.equal((await updater.getTargetInfo("app/app-2.bin"))?.role, "component-app", "positive control");
    assert.equal(await updater.getTargetInfo("firmware/evil.bin"), undefined);
  });

  it("stops at a terminating delegation; goes on past a non-terminating one", async () => {
    const terminating = await delegated(
      [
        { name: "component-a", paths: ["app/*"], terminating: true },
        { name: "component-b", paths: ["app/*"] },
      ],
      [["app/x.bin", "component-b"]],
    );
    const stopped = terminating.updater();
    await stopped.refresh();
    assert.equal(await stopped.getTargetInfo("app/x.bin"), undefined);

    const open = await delegated(
      [
        { name: "component-a", paths: ["app/*"], terminating: false },
        { name: "component-b", paths: ["app/*"] },
      ],
      [["app/x.bin", "component-b"]],
    );
    const found = open.updater();
    await found.refresh();
    assert.equal((await found.getTargetInfo("app/x.bin"))?.role, "component-b");
  });

  it("a terminating delegation deeper in the graph also ends the search of its ancestors' siblings", async () => {
    const f = await delegated(
      [
        { name: "team-apps", paths: ["app/*"] },
        { name: "component-b", paths: ["app/*"] },
        { name: "component-a", paths: ["app/*"], terminating: true, parent: "team-apps" },
      ],
      [["app/x.bin", "component-b"]],
    );
    const updater = f.updater();
    await updater.refresh();
    assert.equal(await updater.getTargetInfo("app/x.bin"), undefined);
    assert.equal(f.repo.targets("team-apps")?.delegations?.roles[0]?.name, "component-a", "nested as meant");
  });

  it("prefers the first delegation that lists the target (prioritised delegations)", async () => {
    const f = await delegated(
      [
        { name: "component-a", paths: ["app/*"] },
        { name: "component-b", paths: ["app/*"] },
      ],
      [
        ["app/x.bin", "component-a"],
        ["app/x.bin", "component-b"],
      ],
    );
    const updater = f.updater();
    await updater.refresh();
    assert.equal((await updater.getTargetInfo("app/x.bin"))?.role, "component-a");
  });

  it("visits at most maxDelegations roles, and reports a delegated role that fails its checks", async () => {
    const f = await delegated(
      [
        { name: "component-a", paths: ["app/*"] },
        { name: "component-b", paths: ["app/*"] },
      ],
      [["app/x.bin", "component-b"]],
    );
    const limited = f.updater({ maxDelegations: 2 });
    await limited.refresh();
    assert.equal(await limited.getTargetInfo("app/x.bin"), undefined);
    const unlimited = f.updater({ maxDelegations: 3 });
    await unlimited.refresh();
    assert.equal((await unlimited.getTargetInfo("app/x.bin"))?.role, "component-b");
    f.served.set("1.component-a.json", Buffer.from("{}"));
    const broken = f.updater();
    await broken.refresh();
    await assert.rejects(broken.getTargetInfo("app/x.bin"), (e) => isTufError(e, "TUF_MISMATCH"));
  });
});
