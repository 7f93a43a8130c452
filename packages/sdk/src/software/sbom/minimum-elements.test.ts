/**
 * The BSI TR-03183-2 v2.1.0 gate: each rule once satisfied and once broken on a minimal document of
 * each format, then real documents of the test set and the gaps each rule finds in them.
 */
import assert from "node:assert/strict";
import { createReadStream, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { checkMinimumElements, isLicenceIdentifier } from "./minimum-elements.ts";
import { parseSbomText } from "./parse.ts";

// biome-ignore lint/suspicious/noExplicitAny: the test documents are JSON changed freely by path, rule by rule.
type Json = Record<string, any>;
const SHA512 = "ab".repeat(64);
const SBOM_DIR = new URL("../../../../../test/data/sbom/", import.meta.url);

function bsiGaps(doc: unknown): string[] {
  const report = checkMinimumElements(parseSbomText(JSON.stringify(doc)));
  assert.equal(report.bsiVersion, "2.1.0");
  return report.gaps
    .filter((g) => g.standard === "BSI-TR-03183-2")
    .map((g) => g.element)
    .sort();
}

const clone = <T>(v: T): T => structuredClone(v);

function cdxComponent(ref: string, name: string, file: string): Json {
  return {
    type: "library",
    "bom-ref": ref,
    name,
    version: "1.2.3",
    purl: `pkg:npm/${name}@1.2.3`,
    manufacturer: { name: `${name} project`, url: [`https://${name}.example.org`] },
    licenses: [{ license: { id: "MIT", acknowledgement: "concluded" } }],
    externalReferences: [
      {
        type: "distribution",
        url: `https://registry.example.org/${file}`,
        hashes: [{ alg: "SHA-512", content: SHA512 }],
      },
    ],
    properties: [
      { name: "bsi:component:filename", value: file },
      { name: "bsi:component:executable", value: "executable" },
      { name: "bsi:component:archive", value: "no archive" },
      { name: "bsi:component:structured", value: "unstructured" },
    ],
  };
}

/** A CycloneDX 1.6 document with every field TR-03183-2 v2.1 §5.2.1 / §5.2.2 requires. */
const CDX: Json = {
  bomFormat: "CycloneDX",
  specVersion: "1.6",
  serialNumber: "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
  version: 1,
  metadata: {
    timestamp: "2026-12-01T10:00:00Z",
    manufacturer: { name: "ACME", contact: [{ name: "SBOM team", email: "sbom@acme.example" }] },
    component: { ...cdxComponent("app", "app", "app.bin"), type: "firmware" },
  },
  components: [cdxComponent("lib", "lib", "lib.so")],
  dependencies: [
    { ref: "app", dependsOn: ["lib"] },
    { ref: "lib", dependsOn: [] },
  ],
  compositions: [{ aggregate: "complete", dependencies: ["app", "lib"] }],
};

const lib = (d: Json): Json => d.components[0];
const prop = (d: Json, name: string): Json =>
  lib(d).properties.find((p: Json) => p.name === `bsi:component:${name}`);

/** Each rule: a change to the conforming document that breaks exactly that rule. */
const CDX_RULES: [string, (d: Json) => void][] = [
  [
    "SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)",
    (d) => {
      // A 1.5 document: no manufacturer there (metadata.manufacture), no acknowledgement.
      d.specVersion = "1.5";
      d.metadata.manufacture = d.metadata.manufacturer;
      delete d.metadata.manufacturer;
      for (const c of [d.metadata.component, lib(d)]) {
        c.licenses = [{ license: { id: "MIT" } }];
        c.authors = undefined;
        c.author = `${c.name} project <dev@${c.name}.example.org>`;
        delete c.manufacturer;
        delete c.authors;
      }
    },
  ],
  [
    "no vulnerability information",
    (d) => {
      d.vulnerabilities = [{ id: "CVE-2024-0001", affects: [{ ref: "lib" }] }];
    },
  ],
  [
    "creator of the SBOM (e-mail or URL)",
    (d) => {
      d.metadata.manufacturer = { name: "ACME" }; // a name alone is not a contact (§5.2.1)
    },
  ],
  [
    "timestamp",
    (d) => {
      delete d.metadata.timestamp;
    },
  ],
  [
    "component creator (e-mail or URL)",
    (d) => {
      lib(d).manufacturer = { name: "lib project" };
      lib(d).supplier = { name: "Reseller", url: ["https://reseller.example"] }; // a supplier is not the creator (§3.2.9)
    },
  ],
  [
    "component name",
    (d) => {
      lib(d).name = "";
    },
  ],
  [
    "component version",
    (d) => {
      delete lib(d).version;
      lib(d).purl = "pkg:npm/lib"; // no version from the purl either
    },
  ],
  [
    "filename of the component",
    (d) => {
      prop(d, "filename").value = "/usr/lib/lib.so"; // a path, not the filename
    },
  ],
  [
    "dependencies on other components",
    (d) => {
      d.dependencies = [{ ref: "app", dependsOn: ["lib"] }]; // lib is not declared as a (leaf) node
    },
  ],
  [
    "completeness of the dependencies indicated",
    (d) => {
      d.compositions = [{ aggregate: "complete", dependencies: ["app"] }];
    },
  ],
  [
    "dependencies complete (not declared incomplete or unknown)",
    (d) => {
      d.compositions = [
        { aggregate: "complete", dependencies: ["app"] },
        { aggregate: "incomplete_first_party_only", dependencies: ["lib"] },
      ];
    },
  ],
  [
    "distribution licences (SPDX identifier or expression)",
    (d) => {
      lib(d).licenses = [
        { license: { id: "MIT", acknowledgement: "declared" } }, // an original licence only
        { license: { name: "The MIT-ish licence", acknowledgement: "concluded" } }, // not an identifier (§6.1)
      ];
    },
  ],
  [
    "hash value of the deployable component (SHA-512)",
    (d) => {
      lib(d).externalReferences[0].hashes = [{ alg: "SHA-256", content: "cd".repeat(32) }];
    },
  ],
  [
    "executable property",
    (d) => {
      prop(d, "executable").value = "yes";
    },
  ],
  [
    "archive property",
    (d) => {
      lib(d).properties = lib(d).properties.filter((p: Json) => p.name !== "bsi:component:archive");
    },
  ],
  [
    "structured property",
    (d) => {
      prop(d, "structured").value = "maybe";
    },
  ],
  [
    "other unique identifiers (purl, CPE or SWID)",
    (d) => {
      delete lib(d).purl;
    },
  ],
];

describe("BSI TR-03183-2 v2.1.0 on CycloneDX 1.6", () => {
  it("a document with every required field has no gap", () => {
    assert.deepEqual(bsiGaps(CDX), []);
  });
  for (const [rule, breakIt] of CDX_RULES)
    it(`flags "${rule}" and nothing else when it is broken`, () => {
      const d = clone(CDX);
      breakIt(d);
      assert.deepEqual(bsiGaps(d), [rule]);
    });
  it("a component's nested components declare what it contains (§3.2.7)", () => {
    const d = clone(CDX);
    d.metadata.component.components = d.components;
    d.components = [];
    d.dependencies = [{ ref: "lib", dependsOn: [] }];
    d.compositions = [{ aggregate: "complete", assemblies: ["app"], dependencies: ["lib"] }];
    assert.deepEqual(bsiGaps(d), []);
    d.metadata.component.components = [];
    d.components = [lib({ components: [cdxComponent("lib", "lib", "lib.so")] })];
    assert.deepEqual(
      bsiGaps(d),
      ["dependencies on other components"],
      "without the nesting app declares nothing",
    );
  });
  it("a component referenced by another BOM needs only creator, name and version (§3.2.5)", () => {
    const d = clone(CDX);
    const ext: Json = {
      type: "library",
      "bom-ref": "ext",
      name: "ext",
      version: "2.0.0",
      manufacturer: { contact: [{ email: "dev@ext.example" }] },
      // §8.2 "References to another BOM".
      externalReferences: [{ type: "bom", url: "https://ext.example/sbom.cdx.json" }],
    };
    d.components.push(ext);
    assert.deepEqual(bsiGaps(d), []);
    // Positive controls: it still needs its version, and without the reference the full list.
    delete ext.version;
    assert.deepEqual(bsiGaps(d), ["component version"]);
    ext.version = "2.0.0";
    ext.externalReferences = [];
    assert.deepEqual(bsiGaps(d), [
      "archive property",
      "completeness of the dependencies indicated",
      "dependencies on other components",
      "distribution licences (SPDX identifier or expression)",
      "executable property",
      "filename of the component",
      "hash value of the deployable component (SHA-512)",
      "other unique identifiers (purl, CPE or SWID)",
      "structured property",
    ]);
  });
  it("names the components, the clause and where vulnerability records sit", () => {
    const d = clone(CDX);
    d.vulnerabilities = [{ id: "CVE-2024-0001" }, { id: "CVE-2024-0002" }];
    delete lib(d).version;
    lib(d).purl = "pkg:npm/lib";
    const gaps = checkMinimumElements(parseSbomText(JSON.stringify(d))).gaps;
    const vuln = gaps.find((g) => g.element === "no vulnerability information")!;
    assert.equal(vuln.clause, "§3.1");
    assert.equal(vuln.missingCount, 2);
    assert.match(vuln.detail!, /\/vulnerabilities\/0 \(CVE-2024-0001\)/);
    const version = gaps.find((g) => g.element === "component version")!;
    assert.deepEqual([version.clause, version.componentRefs, version.missingCount], ["§5.2.2", ["lib"], 1]);
  });
});

/** An SPDX 3.0.1 document with every field §8.2 maps for SPDX 3.0.1. */
function spdx3(): Json {
  const ci = "_:creationinfo";
  const pkg = (id: string, name: string): Json => ({
    type: "software_Package",
    spdxId: id,
    creationInfo: ci,
    name,
    software_packageVersion: "1.2.3",
    software_packageUrl: `pkg:npm/${name}@1.2.3`,
    originatedBy: ["https://ex.org/maker"],
  });
  const file = (id: string, name: string, purposes: string[]): Json => ({
    type: "software_File",
    spdxId: id,
    creationInfo: ci,
    name,
    verifiedUsing: [{ type: "Hash", algorithm: "sha512", hashValue: SHA512 }],
    software_additionalPurpose: purposes,
  });
  const rel = (id: string, from: string, type: string, to: string[], completeness?: string): Json => ({
    type: "Relationship",
    spdxId: id,
    creationInfo: ci,
    from,
    relationshipType: type,
    to,
    ...(completeness ? { completeness } : {}),
  });
  return {
    "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
    "@graph": [
      {
        type: "CreationInfo",
        "@id": ci,
        specVersion: "3.0.1",
        created: "2026-12-01T10:00:00Z",
        createdBy: ["https://ex.org/maker"],
      },
      {
        type: "Organization",
        spdxId: "https://ex.org/maker",
        creationInfo: ci,
        name: "ACME",
        externalIdentifier: [
          { type: "ExternalIdentifier", externalIdentifierType: "email", identifier: "sbom@acme.example" },
        ],
      },
      {
        type: "SpdxDocument",
        spdxId: "https://ex.org/doc",
        creationInfo: ci,
        rootElement: ["https://ex.org/sbom"],
      },
      {
        type: "software_Sbom",
        spdxId: "https://ex.org/sbom",
        creationInfo: ci,
        rootElement: ["https://ex.org/app"],
      },
      pkg("https://ex.org/app", "app"),
      pkg("https://ex.org/lib", "lib"),
      file("https://ex.org/app-file", "app.bin", ["executable", "firmware"]),
      file("https://ex.org/lib-file", "lib.tar.gz", ["archive", "container"]),
      {
        type: "simplelicensing_LicenseExpression",
        spdxId: "https://ex.org/mit",
        creationInfo: ci,
        simplelicensing_licenseExpression: "MIT",
      },
      rel(
        "https://ex.org/r1",
        "https://ex.org/app",
        "hasDistributionArtifact",
        ["https://ex.org/app-file"],
        "complete",
      ),
      rel(
        "https://ex.org/r2",
        "https://ex.org/lib",
        "hasDistributionArtifact",
        ["https://ex.org/lib-file"],
        "complete",
      ),
      rel(
        "https://ex.org/r3",
        "https://ex.org/app",
        "hasConcludedLicense",
        ["https://ex.org/mit"],
        "complete",
      ),
      rel(
        "https://ex.org/r4",
        "https://ex.org/lib",
        "hasConcludedLicense",
        ["https://ex.org/mit"],
        "complete",
      ),
      rel("https://ex.org/r5", "https://ex.org/app", "dependsOn", ["https://ex.org/lib"], "complete"),
      rel(
        "https://ex.org/r6",
        "https://ex.org/lib",
        "dependsOn",
        ["https://spdx.org/rdf/3.0.1/terms/Core/NoneElement"],
        "complete",
      ),
    ],
  };
}
const el = (d: Json, id: string): Json =>
  d["@graph"].find((e: Json) => e.spdxId === `https://ex.org/${id}` || e["@id"] === id);

const SPDX3_RULES: [string, (d: Json) => void][] = [
  [
    "no vulnerability information",
    (d) => {
      d["@graph"].push({
        type: "security_Vulnerability",
        spdxId: "https://ex.org/cve",
        creationInfo: "_:creationinfo",
        name: "CVE-2024-0001",
      });
    },
  ],
  [
    "creator of the SBOM (e-mail or URL)",
    (d) => {
      el(d, "_:creationinfo").createdBy = ["https://ex.org/nobody"];
      d["@graph"].push({
        type: "Person",
        spdxId: "https://ex.org/nobody",
        creationInfo: "_:creationinfo",
        name: "Nobody",
      });
    },
  ],
  [
    "timestamp",
    (d) => {
      el(d, "_:creationinfo").created = "yesterday";
    },
  ],
  [
    "component creator (e-mail or URL)",
    (d) => {
      delete el(d, "lib").originatedBy;
    },
  ],
  [
    "component version",
    (d) => {
      delete el(d, "lib").software_packageVersion;
      el(d, "lib").software_packageUrl = "pkg:npm/lib";
    },
  ],
  [
    "filename of the component",
    (d) => {
      el(d, "lib-file").name = "dist/lib.tar.gz";
    },
  ],
  [
    "dependencies on other components",
    (d) => {
      // lib's "dependsOn NoneElement" goes: it is no longer declared a leaf.
      d["@graph"] = d["@graph"].filter((e: Json) => e.spdxId !== "https://ex.org/r6");
    },
  ],
  [
    "completeness of the dependencies indicated",
    (d) => {
      delete el(d, "r5").completeness;
    },
  ],
  [
    "dependencies complete (not declared incomplete or unknown)",
    (d) => {
      el(d, "r5").completeness = "incomplete";
    },
  ],
  [
    "distribution licences (SPDX identifier or expression)",
    (d) => {
      el(d, "r4").relationshipType = "hasDeclaredLicense"; // an original licence only
    },
  ],
  [
    "hash value of the deployable component (SHA-512)",
    (d) => {
      el(d, "lib-file").verifiedUsing = [{ type: "Hash", algorithm: "sha256", hashValue: "cd".repeat(32) }];
    },
  ],
  [
    "structured property",
    (d) => {
      el(d, "lib-file").software_additionalPurpose = ["archive"];
    },
  ],
  [
    "other unique identifiers (purl, CPE or SWID)",
    (d) => {
      delete el(d, "lib").software_packageUrl;
    },
  ],
];

describe("BSI TR-03183-2 v2.1.0 on SPDX 3.0.1", () => {
  it("a document with every field mapped in §8.2 has no gap", () => {
    assert.deepEqual(bsiGaps(spdx3()), []);
  });
  for (const [rule, breakIt] of SPDX3_RULES) {
    // Removing lib's only dependency relationship also leaves its completeness unstated.
    const expected =
      rule === "dependencies on other components"
        ? [rule, "completeness of the dependencies indicated"].sort()
        : [rule];
    it(`flags "${rule}" when it is broken`, () => {
      const d = spdx3();
      breakIt(d);
      assert.deepEqual(bsiGaps(d), expected);
    });
  }
  it("a package described by another SBOM (buildMeta) needs only creator, name and version (§3.2.5)", () => {
    const d = spdx3();
    d["@graph"].push(
      {
        type: "software_Package",
        spdxId: "https://ex.org/ext",
        creationInfo: "_:creationinfo",
        name: "ext",
        software_packageVersion: "2.0.0",
        originatedBy: ["https://ex.org/maker"],
      },
      {
        type: "software_Sbom",
        spdxId: "https://ex.org/ext-sbom",
        creationInfo: "_:creationinfo",
        externalRef: [
          {
            type: "ExternalRef",
            externalRefType: "buildMeta",
            locator: ["https://ext.example/sbom.spdx.json"],
          },
        ],
      },
      {
        type: "Relationship",
        spdxId: "https://ex.org/ext-describes",
        creationInfo: "_:creationinfo",
        from: "https://ex.org/ext-sbom",
        relationshipType: "describes",
        to: ["https://ex.org/ext"],
      },
    );
    assert.deepEqual(bsiGaps(d), []);
    // Positive control: without the reference it is held to the full list.
    d["@graph"] = d["@graph"].filter((e: Json) => e.spdxId !== "https://ex.org/ext-describes");
    assert.ok(bsiGaps(d).includes("filename of the component"));
  });
  it("without a distribution file, filename, hash and the three properties are gaps", () => {
    const d = spdx3();
    d["@graph"] = d["@graph"].filter((e: Json) => e.spdxId !== "https://ex.org/r2");
    assert.deepEqual(bsiGaps(d), [
      "archive property",
      "executable property",
      "filename of the component",
      "hash value of the deployable component (SHA-512)",
      "structured property",
    ]);
  });
});

/** SPDX 2.3: what TR v2.1 can read of it (its §8.2 maps SPDX 3.0.1 only). */
function spdx2(): Json {
  const pkg = (id: string, name: string): Json => ({
    SPDXID: id,
    name,
    versionInfo: "1.2.3",
    downloadLocation: "https://example.org",
    packageFileName: `${name}.tar.gz`,
    originator: `Organization: ${name} project (dev@${name}.example.org)`,
    licenseConcluded: "Apache-2.0 OR MIT",
    licenseDeclared: "MIT",
    checksums: [{ algorithm: "SHA512", checksumValue: SHA512 }],
    externalRefs: [
      {
        referenceCategory: "PACKAGE-MANAGER",
        referenceType: "purl",
        referenceLocator: `pkg:npm/${name}@1.2.3`,
      },
    ],
  });
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: "app",
    documentNamespace: "https://example.org/spdx/app-1",
    creationInfo: {
      created: "2026-12-01T10:00:00Z",
      creators: ["Organization: ACME (sbom@acme.example)", "Tool: x-1"],
    },
    packages: [pkg("SPDXRef-app", "app"), pkg("SPDXRef-lib", "lib")],
    relationships: [
      { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: "SPDXRef-app" },
      { spdxElementId: "SPDXRef-app", relationshipType: "DEPENDS_ON", relatedSpdxElement: "SPDXRef-lib" },
      { spdxElementId: "SPDXRef-lib", relationshipType: "DEPENDS_ON", relatedSpdxElement: "NONE" },
    ],
  };
}
// What no SPDX 2 document can meet: its version (§4), the three properties, and the completeness of
// a non-leaf's dependencies.
const SPDX2_ALWAYS = [
  "SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)",
  "archive property",
  "completeness of the dependencies indicated",
  "executable property",
  "structured property",
];
const SPDX2_RULES: [string, (d: Json) => void][] = [
  [
    "no vulnerability information",
    (d) => {
      d.packages[1].externalRefs.push({
        referenceCategory: "SECURITY",
        referenceType: "advisory",
        referenceLocator: "https://nvd.nist.gov/vuln/detail/CVE-2024-0001",
      });
    },
  ],
  [
    "creator of the SBOM (e-mail or URL)",
    (d) => {
      d.creationInfo.creators = ["Organization: ACME", "Tool: x-1"];
    },
  ],
  [
    "component creator (e-mail or URL)",
    (d) => {
      d.packages[1].originator = "Organization: lib project";
    },
  ],
  [
    "filename of the component",
    (d) => {
      delete d.packages[1].packageFileName;
    },
  ],
  [
    "dependencies on other components",
    (d) => {
      d.relationships.pop(); // lib is no longer declared a leaf (DEPENDS_ON NONE)
    },
  ],
  [
    "dependencies complete (not declared incomplete or unknown)",
    (d) => {
      d.relationships.at(-1).relatedSpdxElement = "NOASSERTION";
    },
  ],
  [
    "distribution licences (SPDX identifier or expression)",
    (d) => {
      d.packages[1].licenseConcluded = "NOASSERTION";
    },
  ],
  [
    "hash value of the deployable component (SHA-512)",
    (d) => {
      d.packages[1].checksums = [{ algorithm: "SHA256", checksumValue: "cd".repeat(32) }];
    },
  ],
];

describe("BSI TR-03183-2 v2.1.0 on SPDX 2.3", () => {
  it("a document with every field SPDX 2 can carry has only the gaps SPDX 2 cannot close", () => {
    assert.deepEqual(bsiGaps(spdx2()), SPDX2_ALWAYS);
  });
  for (const [rule, breakIt] of SPDX2_RULES) {
    const expected = [...SPDX2_ALWAYS, rule];
    it(`flags "${rule}" when it is broken`, () => {
      const d = spdx2();
      breakIt(d);
      assert.deepEqual(bsiGaps(d), expected.sort());
    });
  }
});

it("licence identifiers and expressions are told from names (§6.1)", () => {
  for (const ok of [
    "MIT",
    "Apache-2.0 OR MIT",
    "(GPL-2.0-only WITH Classpath-exception-2.0) AND BSD-3-Clause",
    "LicenseRef-scancode-foo",
    "GPL-2.0+",
    "name:LicenseRef-acme-eula",
  ])
    assert.ok(isLicenceIdentifier(ok), ok);
  for (const bad of ["name:The MIT licence", "NOASSERTION", "NONE", "", "MIT, BSD"])
    assert.ok(!isLicenceIdentifier(bad), bad);
});

async function fromArchive(archive: string, names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = extract();
  createReadStream(new URL(archive, SBOM_DIR)).pipe(createGunzip()).pipe(ex);
  for await (const entry of ex) {
    const wanted = names.find((n) => entry.header.name.endsWith(n));
    if (!wanted) {
      entry.resume();
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(wanted, Buffer.concat(chunks).toString("utf8"));
  }
  return out;
}

function gapsOf(text: string): Map<string, number> {
  return new Map(
    checkMinimumElements(parseSbomText(text))
      .gaps.filter((g) => g.standard === "BSI-TR-03183-2")
      .map((g) => [g.element, g.missingCount]),
  );
}

describe("real documents: which rule flags which gap", () => {
  it("cdxgen 12.8.4 on this repository (CycloneDX 1.6): no creator contact, no BSI properties, no compositions", () => {
    const text = readFileSync(new URL("cdxgen-12.8.4-bulwark.cdx.json", SBOM_DIR), "utf8");
    const gaps = gapsOf(text);
    // metadata.authors is [{name: "OWASP Foundation"}]: a name, no e-mail or URL (§5.2.1).
    assert.equal(gaps.get("creator of the SBOM (e-mail or URL)"), 1);
    // 176 components; none has manufacturer, bsi:component:* properties or a composition.
    for (const rule of [
      "component creator (e-mail or URL)",
      "filename of the component",
      "completeness of the dependencies indicated",
      "executable property",
      "archive property",
      "structured property",
    ])
      assert.equal(gaps.get(rule), 176, rule);
    // npm integrity hashes are SHA-512: only 5 components lack one; the format version passes.
    assert.equal(gaps.get("hash value of the deployable component (SHA-512)"), 5);
    assert.ok(!gaps.has("SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)"));
    assert.ok(!gaps.has("no vulnerability information"));
    assert.ok(!gaps.has("dependencies on other components"));
  });

  it("bom-examples: CycloneDX 1.2–1.4 fail §4, VEX documents carry vulnerabilities (§3.1)", async () => {
    const docs = await fromArchive("cyclonedx-bom-examples.tar.gz", [
      "keycloak-10.0.2/bom.json",
      "VEX/vex.json",
      "juice-shop/v11.1.2/bom.json",
    ]);
    const keycloak = gapsOf(docs.get("keycloak-10.0.2/bom.json")!);
    assert.ok(keycloak.has("SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)"));
    assert.equal(keycloak.get("distribution licences (SPDX identifier or expression)"), 132);
    const vex = checkMinimumElements(parseSbomText(docs.get("VEX/vex.json")!)).gaps.find(
      (g) => g.element === "no vulnerability information",
    )!;
    assert.ok(vex.missingCount >= 1);
    assert.match(vex.detail!, /\/vulnerabilities\/0/);
    // juice-shop 11.1.2 (CycloneDX 1.2) has no dependency graph at all.
    assert.equal(
      gapsOf(docs.get("juice-shop/v11.1.2/bom.json")!).get("dependencies on other components"),
      841,
    );
  });

  it("spdx-examples: SPDX 2.3 security refs are vulnerability information; SPDX 3.0.1 creators with e-mail pass", async () => {
    const docs = await fromArchive("spdx-examples.tar.gz", [
      "04-SBOMwSecurity.json",
      "example7-go-module.spdx3.json",
      "example9/spdx3.0/appbomination.spdx3.json",
    ]);
    const security = gapsOf(docs.get("04-SBOMwSecurity.json")!);
    assert.ok(security.has("no vulnerability information"));
    assert.ok(security.has("SBOM format version (CycloneDX >= 1.6, SPDX >= 3.0.1)"));
    const goModule = gapsOf(docs.get("example7-go-module.spdx3.json")!);
    assert.ok(!goModule.has("creator of the SBOM (e-mail or URL)"));
    assert.ok(!goModule.has("component creator (e-mail or URL)"));
    assert.ok(goModule.has("hash value of the deployable component (SHA-512)"));
    // appbomination states completeness on its relationships, and some are not "complete" (§5.1).
    const app = gapsOf(docs.get("example9/spdx3.0/appbomination.spdx3.json")!);
    assert.equal(app.get("dependencies complete (not declared incomplete or unknown)"), 4);
  });
});
