import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as extended from "@secvisogram/csaf-validator-lib/extended.js";
import validate from "@secvisogram/csaf-validator-lib/validate.js";
import * as openpgp from "openpgp";
import { cyclonedx, osvDir, osvRecord } from "../../packages/server/test/store-fixtures.ts";
import { startTestServer, type TestServer, tempDir } from "../helpers.ts";

/**
 * CSAF 2.0 (issue #16 item 5): an advisory for what a release fixes passes the BSI validator's
 * schema, mandatory (6.1) and recommended (6.2) tests; the provider serves it as a trusted provider
 * (provider-metadata, directory, index.txt, changes.csv, SHA-512, OpenPGP signature, public key).
 */
const anonymous = { authorization: "" };
type Matrix = { requirements: { id: string; status: string; reason: string }[] };

describe("CSAF 2.0 advisories and the trusted-provider distribution (issue #16)", () => {
  let server: TestServer;
  let product: string;
  let fixedRelease: string;
  let url: string;
  const status = async (id: string) =>
    (await server.api<Matrix>("GET", `/api/v1/products/${product}/annex-i`)).body.requirements.find(
      (r) => r.id === id,
    )!;

  before(async () => {
    server = await startTestServer();
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
    await server.api("PUT", `/api/v1/products/${product}/cra`, {
      manufacturer: {
        name: "Acme Devices GmbH",
        address: "Hauptstr. 1, Berlin",
        country: "DE",
        email: "psirt@acme.example",
      },
      intendedPurpose: "home gateway",
      memberStates: ["DE"],
      category: "default",
      categoryRationale: "no Annex III or IV core functionality",
      conformityRoute: "module-a",
    });
    const system = { type: "system" } as const;
    await server.software.monitor.importAdvisories(
      osvDir(tempDir("bulwark-csaf-osv-"), [
        osvRecord({
          id: "GHSA-csaf-0000-0001",
          aliases: ["CVE-2026-10001"],
          name: "log4js",
          fixed: "2.0.0",
          cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        }),
      ]),
      system,
    );
    const r1 = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "1.0.0",
    });
    await server.software.monitor.attachSbom(r1.body.id, cyclonedx(["log4js@1.0.0"]), system);
    const r2 = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "1.1.0",
      classification: "security",
    });
    fixedRelease = r2.body.id;
    await server.software.monitor.attachSbom(fixedRelease, cyclonedx(["log4js@2.0.0"]), system);
  });
  after(async () => {
    await server.close();
  });

  it("a fixed vulnerability without an advisory leaves Part II (4) and (8) not met; publishing flips them", async () => {
    const before4 = await status("II-4");
    assert.equal(before4.status, "not-met");
    assert.match(before4.reason, /CVE-2026-10001/);
    assert.equal((await status("II-8")).status, "not-met");
    const published = await server.api<{ url: string; vulnerabilities: string[]; trackingId: string }>(
      "POST",
      `/api/v1/products/${product}/advisories`,
      { releaseId: fixedRelease },
    );
    assert.equal(published.status, 201, JSON.stringify(published.body));
    assert.deepEqual(published.body.vulnerabilities, ["CVE-2026-10001"]);
    url = published.body.url;
    assert.equal((await status("II-4")).status, "met");
    const after8 = await status("II-8");
    assert.equal(after8.status, "met", "advisory in place, and the platform's update system delivers it");
  });

  it("the published document passes the CSAF validator's schema, mandatory and recommended tests", async () => {
    const doc = await server.api<Record<string, unknown>>("GET", new URL(url).pathname, undefined, anonymous);
    assert.equal(doc.status, 200);
    const result = await validate(Object.values(extended), doc.body);
    const problems = result.tests.flatMap((t) =>
      [...t.errors, ...t.warnings].map((e) => `${t.name}: ${e.instancePath} ${e.message}`),
    );
    assert.deepEqual(problems, []);
    assert.equal(result.isValid, true);
    assert.ok(result.tests.length > 40, `${result.tests.length} tests ran`);
    // Positive control: the same validator refuses a document whose fixed product is undefined.
    const broken = structuredClone(doc.body) as {
      vulnerabilities: { product_status: { fixed: string[] } }[];
    };
    broken.vulnerabilities[0]!.product_status.fixed = ["CSAFPID-undefined"];
    assert.equal((await validate(Object.values(extended), broken)).isValid, false);
  });

  it("a release's CSAF VEX document carries its triage and passes the same tests", async () => {
    const old = await server.api<{ items: { releaseId: string; id: string }[] }>(
      "GET",
      "/api/v1/findings?status=open",
    );
    const [finding] = old.body.items;
    assert.ok(finding, "the 1.0.0 finding is open");
    const triage = await server.api("POST", `/api/v1/findings/${finding.id}/triage`, {
      state: "not_affected",
      justification: "vulnerable_code_not_in_execute_path",
    });
    assert.equal(triage.status, 200, JSON.stringify(triage.body));
    const vex = await server.api<{
      vulnerabilities: {
        cve: string;
        product_status: Record<string, string[]>;
        flags: { label: string }[];
      }[];
    }>("GET", `/api/v1/releases/${finding.releaseId}/csaf-vex`);
    assert.equal(vex.status, 200, JSON.stringify(vex.body));
    assert.equal(vex.body.vulnerabilities[0]!.cve, "CVE-2026-10001");
    assert.deepEqual(Object.keys(vex.body.vulnerabilities[0]!.product_status), ["known_not_affected"]);
    assert.equal(vex.body.vulnerabilities[0]!.flags[0]!.label, "vulnerable_code_not_in_execute_path");
    const result = await validate(Object.values(extended), vex.body);
    const problems = result.tests.flatMap((t) =>
      [...t.errors, ...t.warnings].map((e) => `${t.name}: ${e.instancePath} ${e.message}`),
    );
    assert.deepEqual(problems, []);
  });

  it("serves provider metadata, index.txt, changes.csv, SHA-512 and a verifiable OpenPGP signature", async () => {
    const meta = await server.api<{
      role: string;
      distributions: { directory_url: string }[];
      public_openpgp_keys: { fingerprint: string; url: string }[];
    }>("GET", "/.well-known/csaf/provider-metadata.json", undefined, anonymous);
    assert.equal(meta.status, 200);
    assert.equal(meta.body.role, "csaf_trusted_provider");
    const path = url.slice(meta.body.distributions[0]!.directory_url.length);
    const index = await server.api<string>("GET", "/.well-known/csaf/white/index.txt", undefined, anonymous);
    assert.deepEqual(index.body.trim().split("\n"), [path]);
    const changes = await server.api<string>(
      "GET",
      "/.well-known/csaf/white/changes.csv",
      undefined,
      anonymous,
    );
    assert.match(changes.body, new RegExp(`^"${path}","\\d{4}-\\d\\d-\\d\\dT`));
    const raw = await server.api<string>("GET", new URL(url).pathname, undefined, {
      ...anonymous,
      accept: "text/plain",
    });
    const body = typeof raw.body === "string" ? raw.body : `${JSON.stringify(raw.body, null, 2)}\n`;
    const sha = await server.api<string>("GET", `${new URL(url).pathname}.sha512`, undefined, anonymous);
    assert.equal(sha.body.split(" ")[0], createHash("sha512").update(body).digest("hex"));
    const asc = await server.api<string>("GET", `${new URL(url).pathname}.asc`, undefined, anonymous);
    const keyUrl = new URL(meta.body.public_openpgp_keys[0]!.url).pathname;
    const armoredKey = (await server.api<string>("GET", keyUrl, undefined, anonymous)).body;
    const verification = await openpgp.verify({
      message: await openpgp.createMessage({ binary: Buffer.from(body) }),
      signature: await openpgp.readSignature({ armoredSignature: asc.body }),
      verificationKeys: await openpgp.readKey({ armoredKey }),
    });
    await assert.doesNotReject(verification.signatures[0]!.verified);
    const tampered = await openpgp.verify({
      message: await openpgp.createMessage({ binary: Buffer.from(body.replace("Acme", "Evil")) }),
      signature: await openpgp.readSignature({ armoredSignature: asc.body }),
      verificationKeys: await openpgp.readKey({ armoredKey }),
    });
    await assert.rejects(tampered.signatures[0]!.verified, /Signed digest did not match/);
    // RFC 9116 with CSAF 2.0 §7.1.8: security.txt names the provider metadata.
    await server.api("PUT", "/api/v1/cra/disclosure", {
      contact: ["mailto:psirt@acme.example"],
      policy: null,
      preferredLanguages: ["en"],
      intakeEnabled: true,
      encryptionKey: null,
    });
    const txt = await server.api<string>("GET", "/.well-known/security.txt", undefined, anonymous);
    assert.match(
      txt.body,
      new RegExp(
        `^CSAF: ${meta.body.distributions[0]!.directory_url.replace("white/", "provider-metadata.json")}$`,
        "m",
      ),
    );
  });
});
