import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { isSoftwareError } from "../../errors.ts";
import { checkMinimumElements } from "../minimum-elements.ts";
import { parseSbomText } from "../parse.ts";
import { schemaErrors } from "../schema.ts";
import { toCycloneDx, UNKNOWN_PROPERTY } from "./cyclonedx.ts";
import { inventoryFromDpkgStatus } from "./dpkg.ts";
import { inventoryFromFirmwareManifest } from "./firmware.ts";
import type { GenerateOptions, Inventory } from "./model.ts";
import { inventoryFromPackageLock } from "./npm-lock.ts";
import { inventoryFromPythonLock, inventoryFromRequirements } from "./python.ts";
import { toSpdx } from "./spdx.ts";
import { toSpdx3 } from "./spdx3.ts";

const OPTIONS: GenerateOptions = {
  timestamp: "2026-01-02T03:04:05Z",
  creator: { name: "ACME GmbH", contact: "sbom@acme.example" },
  uuid: "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
};

/** Both serialisations validate against the official schemas and parse back to the same purls. */
function checkRoundTrip(inv: Inventory): void {
  const cdx = toCycloneDx(inv, OPTIONS);
  assert.equal(schemaErrors("cyclonedx-1.6", cdx), undefined);
  const spdx = toSpdx(inv, OPTIONS);
  assert.equal(schemaErrors("spdx-2.3", spdx), undefined);
  const want = inv.packages.map((p) => p.purl).sort();
  for (const doc of [cdx, spdx]) {
    const parsed = parseSbomText(JSON.stringify(doc));
    const got = parsed.components.filter((c) => c.ref !== parsed.subjectRef).map((c) => c.purl);
    assert.deepEqual(got.sort(), want);
    const deps = parsed.dependencies.reduce((n, d) => n + d.dependsOn.length, 0);
    const expected =
      inv.packages.reduce((n, p) => n + new Set(p.dependsOn).size, 0) +
      new Set(inv.direct ?? inv.packages.map((p) => p.ref)).size;
    assert.equal(deps, expected, `${parsed.format} keeps every dependency edge`);
    assert.equal(parsed.timestamp, OPTIONS.timestamp);
  }
}

test("npm package-lock.json v3 (this repository's own lock, with workspaces)", () => {
  const text = readFileSync(new URL("../../../../../../package-lock.json", import.meta.url), "utf8");
  const inv = inventoryFromPackageLock(text);
  assert.ok(inv.packages.length > 50);
  const ajv = inv.packages.find((p) => p.ref === "node_modules/ajv")!;
  assert.match(ajv.purl!, /^pkg:npm\/ajv@8\./);
  assert.equal(ajv.hashes["SHA-512"]?.length, 128, "integrity becomes a hex SHA-512");
  const nested = "node_modules/ajv/node_modules/fast-uri";
  const wantUri = JSON.parse(text).packages[nested] === undefined ? "node_modules/fast-uri" : nested;
  assert.ok(ajv.dependsOn.includes(wantUri), "ajv's fast-uri resolves to the nearest copy");
  const sdk = inv.packages.find((p) => p.ref === "packages/sdk")!;
  assert.ok(sdk.dependsOn.includes("node_modules/yaml"), "workspace dependencies resolve");
  assert.ok(
    inv.packages.some((p) => p.name.startsWith("@types/") && p.purl!.startsWith("pkg:npm/%40types/")),
  );
  checkRoundTrip(inv);
  const doc = parseSbomText(JSON.stringify(toCycloneDx(inv, OPTIONS)));
  assert.equal(
    checkMinimumElements(doc).gaps.filter(
      (g) => g.standard === "NTIA" && g.element === "dependency relationship",
    ).length,
    0,
  );
});

/** The BSI gaps of a generated CycloneDX SBOM, element → the refs lacking it. */
function bsiGaps(cdx: Record<string, unknown>): Map<string, string[]> {
  const report = checkMinimumElements(parseSbomText(JSON.stringify(cdx)));
  return new Map(
    report.gaps.filter((g) => g.standard === "BSI-TR-03183-2").map((g) => [g.element, g.componentRefs]),
  );
}

/** Which §5.2.2 fields each component of a generated CycloneDX SBOM says it does not know. */
function unknownOf(cdx: Record<string, unknown>): Map<string, string[]> {
  type C = { "bom-ref": string; properties?: { name: string; value: string }[] };
  const all = [(cdx["metadata"] as { component: C }).component, ...(cdx["components"] as C[])];
  return new Map(
    all.map((c) => [
      c["bom-ref"],
      c.properties?.find((p) => p.name === UNKNOWN_PROPERTY)?.value.split("; ") ?? [],
    ]),
  );
}

test("BSI TR-03183-2 v2.1.0: an SBOM made from this repository's package-lock.json misses only what a lockfile cannot know", () => {
  const text = readFileSync(new URL("../../../../../../package-lock.json", import.meta.url), "utf8");
  const inv = inventoryFromPackageLock(text);
  const cdx = toCycloneDx(inv, { ...OPTIONS, distributionLicences: "declared" });
  assert.equal(schemaErrors("cyclonedx-1.6", cdx), undefined);
  const gaps = bsiGaps(cdx);
  const unknown = unknownOf(cdx);
  // The gaps that remain, each with why the input cannot know it. Each must list exactly the
  // components whose output says (bulwark:tr-03183-2:unknown) that the field is unknown.
  const EXPECTED: Record<string, { field: string; why: string }> = {
    "component creator (e-mail or URL)": {
      field: "component creator",
      why: "a lockfile records no author or maintainer of a package (npm keeps it in each package.json)",
    },
    "filename of the component": {
      field: "filename",
      why: "the primary component (the project) and the workspace packages are folders, not files",
    },
    "hash value of the deployable component (SHA-512)": {
      field: "SHA-512 of the deployable file",
      why: "no integrity is recorded for the project and the workspace folders",
    },
    "executable property": {
      field: "executable/archive/structured properties",
      why: "the project and the workspace folders are not a file",
    },
    "archive property": { field: "executable/archive/structured properties", why: "as above" },
    "structured property": { field: "executable/archive/structured properties", why: "as above" },
    "distribution licences (SPDX identifier or expression)": {
      field: "distribution licences",
      why: "the project and a package declaring no SPDX licence have none to distribute under",
    },
  };
  const report = checkMinimumElements(parseSbomText(JSON.stringify(cdx)));
  for (const gap of report.gaps.filter((g) => g.standard === "BSI-TR-03183-2")) {
    const expected = EXPECTED[gap.element];
    assert.ok(
      expected !== undefined,
      `unexpected gap ${gap.element}: ${gap.componentRefs.slice(0, 5).join(", ")}`,
    );
    for (const ref of gap.componentRefs)
      assert.ok(
        unknown.get(ref)?.includes(expected.field),
        `${ref} lacks ${gap.element} but does not say so`,
      );
    // (a gap lists at most 50 components: the counts must agree too)
    const said = [...unknown.values()].filter((u) => u.includes(expected.field)).length;
    assert.equal(gap.missingCount, said, `${gap.element}: ${gap.missingCount} flagged, ${said} said unknown`);
  }
  // Everything a lockfile knows is there: the SBOM's creator and timestamp (§5.2.1), the format
  // (§4), names, versions, purls (§5.2.4), dependencies and their completeness (§5.2.2, §5.1).
  for (const element of [
    "SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)",
    "creator of the SBOM (e-mail or URL)",
    "timestamp",
    "component version",
    "dependencies on other components",
    "completeness of the dependencies indicated",
    "dependencies complete (not declared incomplete or unknown)",
    "other unique identifiers (purl, CPE or SWID)",
    "no vulnerability information",
  ])
    assert.equal(gaps.has(element), false, element);
  // The registry packages carry all of the file-level fields.
  const ajv = (cdx["components"] as Record<string, unknown>[]).find(
    (c) => c["bom-ref"] === "node_modules/ajv",
  )!;
  assert.deepEqual(unknown.get("node_modules/ajv"), ["component creator"]);
  assert.deepEqual((ajv["properties"] as { name: string; value: string }[]).slice(0, 4), [
    { name: "bsi:component:filename", value: `ajv-${ajv["version"]}.tgz` },
    { name: "bsi:component:executable", value: "non-executable" },
    { name: "bsi:component:archive", value: "archive" },
    { name: "bsi:component:structured", value: "structured" },
  ]);
  const sri = JSON.parse(text).packages["node_modules/ajv"].integrity as string;
  assert.deepEqual((ajv["hashes"] as unknown[])[0], {
    alg: "SHA-512",
    content: Buffer.from(sri.slice("sha512-".length), "base64").toString("hex"),
  });
  const gappy = [...gaps.values()].flat();
  assert.ok(
    (gaps.get("filename of the component") ?? []).length < 20 && gappy.length > 0,
    "only the project and its workspaces lack a file",
  );

  // Positive controls: a field stripped from the output is flagged against that component.
  const stripped = structuredClone(cdx) as { components: Record<string, unknown>[]; compositions: unknown[] };
  const victim = stripped.components.find((c) => c["bom-ref"] === "node_modules/ajv")!;
  victim["hashes"] = [];
  victim["properties"] = (victim["properties"] as { name: string }[]).filter(
    (p) => p.name !== "bsi:component:archive",
  );
  stripped.compositions = [];
  const after = bsiGaps(stripped as unknown as Record<string, unknown>);
  assert.ok(after.get("hash value of the deployable component (SHA-512)")?.includes("node_modules/ajv"));
  assert.ok(after.get("archive property")?.includes("node_modules/ajv"));
  // (a gap lists at most 50 components; every one of them lacks it now)
  const completeness = checkMinimumElements(parseSbomText(JSON.stringify(stripped))).gaps.find(
    (g) => g.element === "completeness of the dependencies indicated",
  );
  assert.equal(completeness?.missingCount, inv.packages.length + 1);
  // Without the creator's statement no distribution licence is written, and the gate says so.
  const noStatement = bsiGaps(toCycloneDx(inv, OPTIONS));
  assert.ok(
    (noStatement.get("distribution licences (SPDX identifier or expression)")?.length ?? 0) >
      (gaps.get("distribution licences (SPDX identifier or expression)")?.length ?? 0),
  );
  assert.deepEqual((ajv["licenses"] as unknown[]).slice(0, 2), [
    { license: { id: "MIT", acknowledgement: "declared" } },
    { license: { id: "MIT", acknowledgement: "concluded" } },
  ]);
  // Without a creator the SBOM names only its tool, which §5.2.1 does not accept.
  const anonymous = toCycloneDx(inv, { timestamp: OPTIONS.timestamp });
  assert.ok(bsiGaps(anonymous).has("creator of the SBOM (e-mail or URL)"));
  assert.throws(() => toCycloneDx(inv, { creator: { contact: "ACME GmbH" } }), RangeError);
});

test("nested node_modules resolve to the nearest copy", () => {
  const lock = {
    name: "app",
    version: "1.0.0",
    lockfileVersion: 3,
    packages: {
      "": { name: "app", version: "1.0.0", dependencies: { a: "^1", b: "^2" } },
      "node_modules/a": { version: "1.0.0", dependencies: { b: "^1" } },
      "node_modules/a/node_modules/b": { version: "1.5.0" },
      "node_modules/b": { version: "2.0.0", license: "MIT", dev: true },
    },
  };
  const inv = inventoryFromPackageLock(JSON.stringify(lock));
  assert.deepEqual(inv.direct, ["node_modules/a", "node_modules/b"]);
  assert.deepEqual(inv.packages.find((p) => p.ref === "node_modules/a")!.dependsOn, [
    "node_modules/a/node_modules/b",
  ]);
  assert.equal(inv.packages.find((p) => p.ref === "node_modules/b")!.development, true);
  checkRoundTrip(inv);
  assert.throws(
    () => inventoryFromPackageLock(JSON.stringify({ lockfileVersion: 1, dependencies: {} })),
    (e) => isSoftwareError(e, "BW_ERR_LOCKFILE_INVALID"),
  );
});

test("requirements.txt with exact pins, extras, markers and hashes", () => {
  const inv = inventoryFromRequirements(
    [
      "# pinned by pip-compile",
      "--index-url https://pypi.org/simple",
      "Django==4.2.1 ; python_version >= '3.8' \\",
      "    --hash=sha256:7efa6b1f781a6119a10ac94b4794ded90db8accbe7802281cd26f8664ffed59c",
      "requests[socks]===2.31.0  # http",
      "zope.interface==6.0",
    ].join("\n"),
  );
  assert.deepEqual(
    inv.packages.map((p) => p.purl),
    ["pkg:pypi/django@4.2.1", "pkg:pypi/requests@2.31.0", "pkg:pypi/zope-interface@6.0"],
  );
  assert.equal(
    inv.packages[0]!.hashes["SHA-256"],
    "7efa6b1f781a6119a10ac94b4794ded90db8accbe7802281cd26f8664ffed59c",
  );
  checkRoundTrip(inv);
  assert.throws(
    () => inventoryFromRequirements("flask==2.0\nrequests>=2\n"),
    (e) => isSoftwareError(e, "BW_ERR_LOCKFILE_INVALID") && e.path === "requirements.txt:2",
  );
});

test("poetry.lock and uv.lock", () => {
  const poetry = inventoryFromPythonLock(
    [
      "[[package]]",
      'name = "Flask"',
      'version = "2.3.2"',
      'groups = ["main"]',
      'files = [{file = "flask-2.3.2.tar.gz", hash = "sha256:8c2f9abd47a9e8df7f0c3f091ce9497d011dc3b31effcf4c85a6e2b50f4114ef"}]',
      "[package.dependencies]",
      'Werkzeug = ">=2.3.3"',
      "[[package]]",
      'name = "werkzeug"',
      'version = "2.3.6"',
      'groups = ["main"]',
      "[[package]]",
      'name = "pytest"',
      'version = "7.4.0"',
      'groups = ["dev"]',
      "[metadata]",
      'lock-version = "2.1"',
    ].join("\n"),
  );
  assert.deepEqual(poetry.packages.find((p) => p.ref === "flask")!.dependsOn, ["werkzeug"]);
  assert.equal(poetry.packages.find((p) => p.ref === "pytest")!.development, true);
  assert.equal(poetry.packages[0]!.hashes["SHA-256"]?.length, 64);
  checkRoundTrip(poetry);
  const uv = inventoryFromPythonLock(
    [
      "version = 1",
      'requires-python = ">=3.12"',
      "[[package]]",
      'name = "demo"',
      'version = "0.1.0"',
      'source = { editable = "." }',
      'dependencies = [{ name = "httpx" }]',
      "[[package]]",
      'name = "httpx"',
      'version = "0.27.0"',
      'source = { registry = "https://pypi.org/simple" }',
      'dependencies = [{ name = "idna" }]',
      'sdist = { url = "https://x/httpx-0.27.0.tar.gz", hash = "sha256:a0cb88a46f32dc874e04ee956e4c2764aba2aa228f650b06788ba6bda2962ab5", size = 1 }',
      "[[package]]",
      'name = "idna"',
      'version = "3.7"',
      'source = { registry = "https://pypi.org/simple" }',
    ].join("\n"),
    "uv.lock",
  );
  assert.equal(uv.subject.name, "demo");
  assert.deepEqual(uv.direct, ["httpx"]);
  assert.deepEqual(
    uv.packages.map((p) => p.purl),
    ["pkg:pypi/httpx@0.27.0", "pkg:pypi/idna@3.7"],
  );
  checkRoundTrip(uv);
});

const DPKG_STATUS = "/var/lib/dpkg/status";

test("this machine's dpkg status database", {
  skip: !existsSync(DPKG_STATUS) && "no dpkg status file here",
}, () => {
  const inv = inventoryFromDpkgStatus(readFileSync(DPKG_STATUS, "utf8"), {
    distro: "debian-12",
    source: DPKG_STATUS,
  });
  const installed = readFileSync(DPKG_STATUS, "utf8").match(/^Status: install ok installed$/gm)?.length ?? 0;
  assert.equal(inv.packages.length, installed);
  const dpkg = inv.packages.find((p) => p.name === "dpkg")!;
  assert.match(dpkg.purl!, /^pkg:deb\/debian\/dpkg@[^?]+\?arch=[a-z0-9]+&distro=debian-12$/);
  assert.ok(dpkg.supplier !== undefined);
  assert.ok(inv.packages.filter((p) => p.dependsOn.length > 0).length > installed / 2);
  checkRoundTrip(inv);
  const doc = parseSbomText(JSON.stringify(toSpdx(inv, OPTIONS)));
  assert.ok(doc.components.every((c) => c.ref === doc.subjectRef || c.ecosystem === "Debian:12"));
});

test("dpkg alternatives and virtual packages", () => {
  const inv = inventoryFromDpkgStatus(
    [
      "Package: a",
      "Status: install ok installed",
      "Version: 1:2.0-1",
      "Architecture: amd64",
      "Maintainer: Jane <j@example.org>",
      "Depends: missing | b (>= 1.0), mail-transport-agent, libc6:any",
      "",
      "Package: b",
      "Status: install ok installed",
      "Version: 1.0",
      "Architecture: all",
      "Provides: mail-transport-agent",
      "",
      "Package: c",
      "Status: deinstall ok config-files",
      "Version: 3",
    ].join("\n"),
  );
  assert.deepEqual(
    inv.packages.map((p) => p.ref),
    ["a:amd64", "b"],
  );
  assert.deepEqual(inv.packages[0]!.dependsOn, ["b"]);
  assert.equal(inv.packages[0]!.supplier, "Jane");
  // deb-control(5) Maintainer's e-mail is the component creator (TR-03183-2 §5.2.2, §8.1.8).
  const parsed = parseSbomText(JSON.stringify(toCycloneDx(inv, OPTIONS)));
  assert.deepEqual(parsed.components.find((c) => c.name === "a")!.creatorContacts, ["j@example.org"]);
  assert.deepEqual(parsed.components.find((c) => c.name === "b")!.creatorContacts, []);
  assert.equal(
    parsed.components.find((c) => c.name === "a")!.dependencyCompleteness,
    "incomplete",
    "libc6 is not installed",
  );
  assert.equal(parsed.components.find((c) => c.name === "b")!.dependencyCompleteness, "complete");
  checkRoundTrip(inv);
});

test("firmware manifest", () => {
  const manifest = {
    bulwarkFirmwareManifest: 1,
    product: { name: "gw-100", version: "4.2.0", supplier: "ACME GmbH" },
    components: [
      {
        name: "openssl",
        version: "3.0.13",
        purl: "pkg:generic/openssl@3.0.13",
        supplier: "OpenSSL Software Foundation",
        licenses: ["Apache-2.0"],
        hashes: { "SHA-512": "ab".repeat(64) },
        dependsOn: ["zlib"],
      },
      { name: "zlib", version: "1.3.1", licenses: ["Zlib"], hashes: { "SHA-256": "cd".repeat(32) } },
      { name: "busybox", version: "1.36.1", licenses: ["GPL-2.0-only OR MIT"] },
    ],
  };
  const inv = inventoryFromFirmwareManifest(JSON.stringify(manifest));
  assert.equal(inv.subject.supplier, "ACME GmbH");
  const cdx = toCycloneDx(inv, OPTIONS);
  assert.equal(schemaErrors("cyclonedx-1.6", cdx), undefined);
  assert.equal(schemaErrors("spdx-2.3", toSpdx(inv, OPTIONS)), undefined);
  const doc = parseSbomText(JSON.stringify(cdx));
  const openssl = doc.components.find((c) => c.name === "openssl")!;
  assert.deepEqual(openssl.licenses, ["Apache-2.0"]);
  assert.equal(doc.components.find((c) => c.name === "busybox")!.licenses[0], "GPL-2.0-only OR MIT");
  const report = checkMinimumElements(doc);
  const bsiHash = report.gaps.find((g) => g.element === "hash value of the deployable component (SHA-512)")!;
  assert.deepEqual(bsiHash.componentRefs.sort(), ["bulwark:subject", "busybox", "zlib"]);
  for (const [broken, path] of [
    [{ ...manifest, bulwarkFirmwareManifest: 2 }, "/bulwarkFirmwareManifest"],
    [{ ...manifest, components: [{ name: "x" }] }, "/components/0/version"],
    [
      { ...manifest, components: [{ name: "x", version: "1", hashes: { MD5: "00" } }] },
      "/components/0/hashes/MD5",
    ],
    [{ ...manifest, components: [{ name: "x", version: "1", dependsOn: ["y"] }] }, "/components/0/dependsOn"],
    [{ ...manifest, components: [{ name: "x", version: "1", purl: "nope" }] }, "/components/0/purl"],
  ] as const) {
    assert.throws(
      () => inventoryFromFirmwareManifest(JSON.stringify(broken), "m.json"),
      (e) => isSoftwareError(e, "BW_ERR_MANIFEST_INVALID") && e.path === `m.json#${path}`,
      path,
    );
  }
});

test("BSI TR-03183-2 v2.1.0: a firmware manifest that states every field leaves only the product's own file unknown", () => {
  const component = (name: string, dependsOn: string[]) => ({
    name,
    version: "1.0.0",
    purl: `pkg:generic/${name}@1.0.0`,
    creator: name === "app" ? "https://app.example" : `dev@${name}.example`,
    licenses: ["Apache-2.0"],
    hashes: { "SHA-512": "ab".repeat(64) },
    filename: `${name}.so`,
    file: { executable: true, archive: false, structured: false },
    dependsOn,
    dependenciesComplete: true,
  });
  const manifest = {
    bulwarkFirmwareManifest: 1,
    product: { name: "gw-100", version: "4.2.0", creator: "psirt@acme.example" },
    direct: ["app"],
    directComplete: true,
    components: [component("app", ["libz"]), component("libz", [])],
  };
  const inv = inventoryFromFirmwareManifest(JSON.stringify(manifest));
  const cdx = toCycloneDx(inv, { ...OPTIONS, distributionLicences: "declared" });
  assert.equal(schemaErrors("cyclonedx-1.6", cdx), undefined);
  const gaps = bsiGaps(cdx);
  // The product is described as a logical component (TR §3.2.2): no file, hash or file properties,
  // and its own licence and identifiers are not in the manifest. The gate holds it to the full list (§3.2.2 not applied).
  assert.deepEqual([...gaps.keys()].sort(), [
    "archive property",
    "distribution licences (SPDX identifier or expression)",
    "executable property",
    "filename of the component",
    "hash value of the deployable component (SHA-512)",
    // the manifest format has no purl or CPE for the product
    "other unique identifiers (purl, CPE or SWID)",
    "structured property",
  ]);
  for (const refs of gaps.values()) assert.deepEqual(refs, ["bulwark:subject"]);
  // Positive control: a component that does not say whether its list is complete is flagged.
  const vague = {
    ...manifest,
    components: [component("app", ["libz"]), { ...component("libz", []), dependenciesComplete: undefined }],
  };
  const vagueGaps = bsiGaps(toCycloneDx(inventoryFromFirmwareManifest(JSON.stringify(vague)), OPTIONS));
  assert.deepEqual(vagueGaps.get("dependencies complete (not declared incomplete or unknown)"), ["libz"]);
  for (const [broken, path] of [
    [
      { ...manifest, components: [{ ...component("x", []), filename: "lib/x.so" }] },
      "/components/0/filename",
    ],
    [{ ...manifest, components: [{ ...component("x", []), creator: "X Corp" }] }, "/components/0/creator"],
    [
      { ...manifest, components: [{ ...component("x", []), file: { executable: true } }] },
      "/components/0/file",
    ],
    [{ ...manifest, directComplete: "yes" }, "/directComplete"],
  ] as const)
    assert.throws(
      () => inventoryFromFirmwareManifest(JSON.stringify(broken), "m.json"),
      (e) => isSoftwareError(e, "BW_ERR_MANIFEST_INVALID") && e.path === `m.json#${path}`,
      path,
    );
});

/** SPDX 3.0.1 JSON-LD structure: every element typed and created, every reference resolvable. */
function checkSpdx3Structure(doc: Record<string, unknown>): void {
  assert.equal(doc["@context"], "https://spdx.org/rdf/3.0.1/spdx-context.jsonld");
  const graph = doc["@graph"] as Record<string, unknown>[];
  const ids = new Set(graph.map((e) => (e["spdxId"] ?? e["@id"]) as string));
  assert.equal(ids.size, graph.length, "ids are unique");
  const none = "https://spdx.org/rdf/3.0.1/terms/Core/NoneElement";
  const known = (ref: unknown) => typeof ref === "string" && (ids.has(ref) || ref === none);
  for (const e of graph) {
    assert.equal(typeof e["type"], "string");
    if (e["type"] === "CreationInfo") continue;
    assert.equal(e["creationInfo"], "_:creationinfo", String(e["spdxId"]));
    if (e["type"] === "Relationship" || e["type"] === "LifecycleScopedRelationship") {
      assert.ok(known(e["from"]), String(e["spdxId"]));
      const to = e["to"] as unknown[];
      assert.ok(to.length > 0 && to.every(known), String(e["spdxId"]));
    }
    for (const key of ["rootElement", "element", "originatedBy", "createdBy", "createdUsing"])
      for (const ref of (e[key] as unknown[] | undefined) ?? [])
        assert.ok(known(ref), `${key} ${String(ref)}`);
    if (typeof e["suppliedBy"] === "string") assert.ok(known(e["suppliedBy"]));
  }
}

test("BSI TR-03183-2 v2.1.0: SPDX 3.0.1 from this repository's package-lock.json has the same gaps as the CycloneDX", () => {
  const text = readFileSync(new URL("../../../../../../package-lock.json", import.meta.url), "utf8");
  const inv = inventoryFromPackageLock(text);
  const options: GenerateOptions = { ...OPTIONS, distributionLicences: "declared" };
  const spdx3 = toSpdx3(inv, options);
  checkSpdx3Structure(spdx3);
  const parsed = parseSbomText(JSON.stringify(spdx3));
  assert.equal(parsed.format, "spdx");
  assert.equal(parsed.specVersion, "3.0.1");
  assert.equal(parsed.timestamp, OPTIONS.timestamp);
  assert.deepEqual(
    parsed.components
      .filter((c) => c.ref !== parsed.subjectRef)
      .map((c) => c.purl)
      .sort(),
    inv.packages.map((p) => p.purl).sort(),
  );
  const edges = parsed.dependencies.reduce((n, d) => n + d.dependsOn.length, 0);
  assert.equal(
    edges,
    inv.packages.reduce((n, p) => n + new Set(p.dependsOn).size, 0) + new Set(inv.direct).size,
    "every dependency edge is kept",
  );
  const summary = (doc: Record<string, unknown>) =>
    checkMinimumElements(parseSbomText(JSON.stringify(doc)))
      .gaps.filter((g) => g.standard === "BSI-TR-03183-2")
      .map((g) => `${g.element}: ${g.missingCount}`)
      .sort();
  // The same fields, for the same number of components, as the CycloneDX made from the same lock
  // (whose gaps the test above explains one by one).
  assert.deepEqual(summary(spdx3), summary(toCycloneDx(inv, options)));
  const ajv = parsed.components.find((c) => c.name === "ajv" && c.purl?.startsWith("pkg:npm/ajv@8"))!;
  assert.equal(ajv.filename, `ajv-${ajv.version}.tgz`);
  assert.deepEqual(ajv.bsiProperties, {
    executable: "non-executable",
    archive: "archive",
    structured: "structured",
  });
  assert.equal(ajv.dependencyCompleteness, "complete");
  assert.deepEqual(ajv.distributionLicenses, ["MIT"]);

  // Positive controls: the gate notices what is taken out.
  const graph = (spdx3["@graph"] as Record<string, unknown>[]).filter(
    (e) => !(e["relationshipType"] === "hasDistributionArtifact" && e["from"] === ajv.ref),
  );
  for (const e of graph)
    if (e["type"] === "Organization" && String(e["spdxId"]).endsWith("#Creator"))
      e["externalIdentifier"] = [];
  const stripped = checkMinimumElements(parseSbomText(JSON.stringify({ ...spdx3, "@graph": graph })));
  assert.ok(stripped.gaps.some((g) => g.element === "creator of the SBOM (e-mail or URL)"));
  for (const element of ["filename of the component", "structured property"])
    assert.ok(stripped.gaps.find((g) => g.element === element)?.componentRefs.includes(ajv.ref), element);
  assert.throws(() => toSpdx3(inv, { timestamp: OPTIONS.timestamp }), RangeError);
});

test("SPDX 3.0.1 from a lockfile and a firmware manifest keeps packages, edges and the stated fields", () => {
  const lock = {
    name: "app",
    version: "1.0.0",
    lockfileVersion: 3,
    packages: {
      "": { name: "app", version: "1.0.0", dependencies: { a: "^1" }, devDependencies: { b: "^2" } },
      "node_modules/a": { version: "1.0.0", license: "MIT OR Apache-2.0", integrity: "sha512-AAAA" },
      "node_modules/b": { version: "2.0.0", dev: true, resolved: "https://r.example/b/-/b-2.0.0.tgz" },
    },
  };
  const inv = inventoryFromPackageLock(JSON.stringify(lock));
  const doc = toSpdx3(inv, OPTIONS);
  checkSpdx3Structure(doc);
  const parsed = parseSbomText(JSON.stringify(doc));
  const a = parsed.components.find((c) => c.name === "a")!;
  const b = parsed.components.find((c) => c.name === "b")!;
  assert.equal(a.filename, "a-1.0.0.tgz");
  assert.equal(b.filename, "b-2.0.0.tgz", "the name in resolved");
  assert.deepEqual(a.licenses, ["MIT OR Apache-2.0"]);
  assert.deepEqual(a.distributionLicenses, [], "no distribution licence without the creator's statement");
  // The development dependency hangs off a lifecycle-scoped relationship, still an edge.
  const graph = doc["@graph"] as Record<string, unknown>[];
  assert.ok(graph.some((e) => e["type"] === "LifecycleScopedRelationship" && e["scope"] === "development"));
  assert.deepEqual(
    parsed.dependencies.find((d) => d.ref === parsed.subjectRef)!.dependsOn.sort(),
    [a.ref, b.ref].sort(),
  );
  const firmware = inventoryFromFirmwareManifest(
    JSON.stringify({
      bulwarkFirmwareManifest: 1,
      product: { name: "gw", creator: "https://acme.example" },
      components: [
        {
          name: "blob",
          version: "1",
          creator: "fw@vendor.example",
          filename: "blob.bin",
          file: { executable: true, archive: false, structured: false },
          hashes: { "SHA-512": "cd".repeat(64) },
          dependenciesComplete: true,
        },
      ],
    }),
  );
  const fw = parseSbomText(JSON.stringify(toSpdx3(firmware, OPTIONS)));
  const blob = fw.components.find((c) => c.name === "blob")!;
  assert.deepEqual(blob.creatorContacts, ["fw@vendor.example"]);
  assert.deepEqual(blob.bsiProperties, {
    executable: "executable",
    archive: "no archive",
    structured: "unstructured",
  });
  assert.equal(blob.dependencyCompleteness, "complete");
  assert.deepEqual(fw.components.find((c) => c.ref === fw.subjectRef)!.creatorContacts, [
    "https://acme.example",
  ]);
  assert.deepEqual(fw.creatorContacts, ["sbom@acme.example"]);
});

const LOCKFILES = new URL("../../../../../../test/data/lockfiles/", import.meta.url);

test("BSI TR-03183-2 v2.1.0: SBOMs made from real uv.lock and poetry.lock miss only what a Python lock cannot know", () => {
  // What a Python lock file cannot say, and why (each must also be named in the component's
  // bulwark:tr-03183-2:unknown property, and only for components that say so).
  const EXPECTED: Record<string, string> = {
    // no author or maintainer is recorded in either lock format
    "component creator (e-mail or URL)": "component creator",
    // several files (sdist and per-platform wheels): the installer picks one at install time
    "filename of the component": "filename",
    // PyPI and the locks give SHA-256 only
    "hash value of the deployable component (SHA-512)": "SHA-512 of the deployable file",
    // neither lock records a licence
    "distribution licences (SPDX identifier or expression)": "distribution licences",
    // the project itself is a logical component (TR §3.2.2), not a file
    "executable property": "executable/archive/structured properties",
    "archive property": "executable/archive/structured properties",
    "structured property": "executable/archive/structured properties",
    // poetry.lock has no entry for the project: its version (and so a purl) is in pyproject.toml
    "component version": "version",
    "other unique identifiers (purl, CPE or SWID)": "other unique identifiers",
    // nor which packages the project uses directly (pyproject.toml): it is attached to all, unknown
    "dependencies complete (not declared incomplete or unknown)": "completeness of the dependencies",
  };
  for (const [file, subjectName] of [
    ["flask-uv.lock", "project"],
    ["python-polylith-poetry.lock", "python-polylith"],
  ] as const) {
    const text = readFileSync(new URL(file, LOCKFILES), "utf8");
    const inv = inventoryFromPythonLock(text, file, subjectName);
    assert.ok(inv.packages.length > 40, file);
    assert.equal(
      new Set(inv.packages.map((p) => p.ref)).size,
      inv.packages.length,
      `${file}: refs are unique`,
    );
    const cdx = toCycloneDx(inv, { ...OPTIONS, distributionLicences: "declared" });
    assert.equal(schemaErrors("cyclonedx-1.6", cdx), undefined);
    const unknown = unknownOf(cdx);
    const report = checkMinimumElements(parseSbomText(JSON.stringify(cdx)));
    for (const gap of report.gaps.filter((g) => g.standard === "BSI-TR-03183-2")) {
      const field = EXPECTED[gap.element];
      assert.ok(
        field !== undefined,
        `${file}: unexpected gap ${gap.element}: ${gap.componentRefs.slice(0, 5).join(", ")}`,
      );
      const said = [...unknown.values()].filter((u) => u.includes(field)).length;
      assert.equal(gap.missingCount, said, `${file}: ${gap.element}`);
      for (const ref of gap.componentRefs) assert.ok(unknown.get(ref)?.includes(field), `${file}: ${ref}`);
    }
    // The dependency lists are there and complete (§5.2.2, §5.1); every package is identified (§5.2.4).
    for (const element of ["dependencies on other components", "completeness of the dependencies indicated"])
      assert.equal(
        report.gaps.some((g) => g.element === element),
        false,
        `${file}: ${element}`,
      );
    // Only the project itself (poetry) lacks a version, an identifier or a known list of direct dependencies.
    for (const element of [
      "component version",
      "other unique identifiers (purl, CPE or SWID)",
      "dependencies complete (not declared incomplete or unknown)",
    ])
      assert.deepEqual(
        report.gaps.find((g) => g.element === element)?.componentRefs ?? [],
        file.includes("poetry") ? ["bulwark:subject"] : [],
        `${file}: ${element}`,
      );
    // Package archives: the file properties are known even where the file is not.
    const props = (cdx["components"] as { properties?: { name: string; value: string }[] }[]).map(
      (c) => c.properties?.find((p) => p.name === "bsi:component:structured")?.value,
    );
    assert.ok(
      props.every((v) => v === "structured"),
      file,
    );
  }
  // Flask's lock holds sphinx at two versions (one per Python range): both kept, each with its own ref.
  const flask = inventoryFromPythonLock(readFileSync(new URL("flask-uv.lock", LOCKFILES), "utf8"), "uv.lock");
  assert.equal(flask.subject.name, "flask");
  const sphinx = flask.packages
    .filter((p) => p.name === "sphinx")
    .map((p) => p.ref)
    .sort();
  assert.deepEqual(sphinx, ["sphinx@8.1.3", "sphinx@8.2.3"]);
  assert.ok(flask.direct!.includes("werkzeug"));
  assert.equal(flask.packages.find((p) => p.ref === "werkzeug")!.development, false);
  assert.equal(
    flask.packages.find((p) => p.ref === "ruff")!.development,
    true,
    "reached only through the dev group",
  );
  assert.equal(flask.directCompleteness, "complete");
  // Positive control: a dependency missing from the lock makes that package's list incomplete.
  const broken = readFileSync(new URL("flask-uv.lock", LOCKFILES), "utf8").replace(
    /\[\[package\]\]\nname = "markupsafe"\n/,
    '[[package]]\nname = "markupsafe-renamed"\n',
  );
  const after = inventoryFromPythonLock(broken, "uv.lock");
  assert.equal(after.packages.find((p) => p.ref === "jinja2")!.dependencyCompleteness, "incomplete");
  assert.equal(after.directCompleteness, "incomplete");
  const gate = bsiGaps(toCycloneDx(after, OPTIONS));
  assert.ok(gate.get("dependencies complete (not declared incomplete or unknown)")?.includes("jinja2"));
});
