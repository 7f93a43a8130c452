import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import * as extended from "@secvisogram/csaf-validator-lib/extended.js";
import validate from "@secvisogram/csaf-validator-lib/validate.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import * as openpgp from "openpgp";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { cyclonedx, osvDir, osvRecord } from "../../packages/server/test/store-fixtures.ts";
import { startTestServer, type TestServer, tempDir } from "../helpers.ts";

/**
 * Bulwark as a CSAF 2.0 trusted provider (issue #16 items 5 and 6): one test per requirement of
 * CSAF 2.0 §7.1 1–20 that can be checked in-process (the rules BSI's csaf_checker applies), the
 * ROLIE feed, service and category documents, validation at publication, and the OpenPGP-signed
 * security.txt (RFC 9116 §2.3).
 */
const anonymous = { authorization: "" };
const SCHEMAS = new URL("../data/csaf/", import.meta.url);
const schema = (name: string) => JSON.parse(readFileSync(new URL(name, SCHEMAS), "utf8")) as object;
const run = promisify(execFile);

// The provider schema refers to the CSAF document schema's publisher; the CSAF schema to FIRST's
// CVSS schemas, which the validator library ships (its schema tests use them).
async function schemaValidator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const v of ["2.0", "3.0", "3.1"]) {
    const mod = (await import(`@secvisogram/csaf-validator-lib/schemas/cvss-v${v}.js`)) as {
      default: object;
    };
    ajv.addSchema(mod.default, `https://www.first.org/cvss/cvss-v${v}.json`);
  }
  ajv.addSchema(schema("csaf_json_schema.json"));
  return {
    provider: ajv.compile(schema("provider_json_schema.json")),
    rolieFeed: ajv.compile(schema("ROLIE_feed_json_schema.json")),
  };
}

type Link = { rel: string; href: string };
type Feed = {
  feed: {
    link: Link[];
    updated: string;
    entry: {
      id: string;
      link: Link[];
      updated: string;
      published: string;
      category: { term: string }[];
      content: { src: string };
    }[];
  };
};
type Metadata = {
  canonical_url: string;
  role: string;
  distributions: {
    directory_url?: string;
    rolie?: { feeds: { url: string; tlp_label: string }[]; services: string[]; categories: string[] };
  }[];
  public_openpgp_keys: { fingerprint: string; url: string }[];
};
type CsafDoc = {
  document: {
    distribution: { tlp: { label: string } };
    tracking: { id: string; initial_release_date: string; current_release_date: string };
  };
};

describe("CSAF 2.0 trusted provider: requirements 1–20, ROLIE, validation, signed security.txt (issue #16)", () => {
  let server: TestServer;
  let product: string;
  let validators: Awaited<ReturnType<typeof schemaValidator>>;
  const get = <T = string>(url: string, headers: Record<string, string> = {}) =>
    server.api<T>("GET", url, undefined, { ...anonymous, ...headers });
  // The exact bytes a client receives (the API helper parses JSON), optionally under another Host
  // name over a TLS session to the test certificate's name.
  const fetchBytes = (url: string, host?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const target = new URL(url, server.httpUrl);
      const req = httpsGet(
        {
          host: "127.0.0.1",
          port: target.port,
          path: target.pathname,
          servername: "localhost",
          ca: server.rootPem,
          ...(host ? { headers: { host } } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("utf8") }),
          );
        },
      );
      req.on("error", reject);
    });
  const raw = async (url: string) => {
    const r = await fetchBytes(url);
    assert.equal(r.status, 200, url);
    return r.body;
  };
  let meta: Metadata;
  let feed: Feed;
  let documents: string[];

  before(async () => {
    validators = await schemaValidator();
    server = await startTestServer();
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
    const profile = {
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
    };
    await server.api("PUT", `/api/v1/products/${product}/cra`, profile);
    const system = { type: "system" } as const;
    await server.software.monitor.importAdvisories(
      osvDir(tempDir("bulwark-csaf-provider-osv-"), [
        osvRecord({
          id: "GHSA-prov-0000-0001",
          aliases: ["CVE-2026-20001"],
          name: "log4js",
          fixed: "2.0.0",
          cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        }),
        // No CVSS: the advisory fixing it draws the recommended test 6.2.3's warning ("missing score").
        osvRecord({ id: "GHSA-prov-0000-0002", aliases: ["CVE-2026-20002"], name: "lodash", fixed: "4.0.0" }),
      ]),
      system,
    );
    const release = async (version: string, packages: string[]) => {
      const r = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
        version,
        classification: "security",
      });
      await server.software.monitor.attachSbom(r.body.id, cyclonedx(packages), system);
      return r.body.id;
    };
    await release("1.0.0", ["log4js@1.0.0", "lodash@3.0.0"]);
    const fixesFirst = await release("1.1.0", ["log4js@2.0.0", "lodash@3.0.0"]);
    const fixesSecond = await release("1.2.0", ["log4js@2.0.0", "lodash@4.0.0"]);
    const first = await server.api("POST", `/api/v1/products/${product}/advisories`, {
      releaseId: fixesFirst,
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const second = await server.api<{ warnings: { test: string }[] }>(
      "POST",
      `/api/v1/products/${product}/advisories`,
      { releaseId: fixesSecond },
    );
    assert.equal(second.status, 201, JSON.stringify(second.body));
    meta = (await get<Metadata>("/.well-known/csaf/provider-metadata.json")).body;
    feed = (await get<Feed>(meta.distributions.find((d) => d.rolie)!.rolie!.feeds[0]!.url)).body;
    const directory = meta.distributions.find((d) => d.directory_url)!.directory_url!;
    documents = (await get(`${directory}index.txt`)).body
      .trim()
      .split("\n")
      .map((p) => new URL(p, directory).href);
  });
  after(async () => {
    await server.close();
  });

  describe("validation at publication (CSAF 2.0 §9.1.14, §6.1, §6.2)", () => {
    it("refuses a document failing a mandatory test with problem+json listing the tests, and stores nothing", async () => {
      const other = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "sensor" })).body
        .id;
      await server.api("PUT", `/api/v1/products/${other}/cra`, {
        manufacturer: {
          name: "Acme Devices GmbH",
          address: "Hauptstr. 1, Berlin",
          country: "DE",
          email: "psirt@acme.example",
        },
        intendedPurpose: "sensor",
        memberStates: ["DE"],
        category: "default",
        categoryRationale: "no Annex III or IV core functionality",
        conformityRoute: "module-a",
      });
      const system = { type: "system" } as const;
      // A version named "all" reads as a version range: mandatory test 6.1.31 fails.
      const old = await server.api<{ id: string }>("POST", `/api/v1/products/${other}/releases`, {
        version: "all",
      });
      await server.software.monitor.attachSbom(old.body.id, cyclonedx(["log4js@1.0.0"]), system);
      const fix = await server.api<{ id: string }>("POST", `/api/v1/products/${other}/releases`, {
        version: "2.0.0",
        classification: "security",
      });
      await server.software.monitor.attachSbom(fix.body.id, cyclonedx(["log4js@2.0.0"]), system);
      const before = (await get("/.well-known/csaf/white/index.txt")).body;
      const refused = await server.api<{
        code: string;
        status: number;
        failedTests: { test: string; path: string }[];
      }>("POST", `/api/v1/products/${other}/advisories`, { releaseId: fix.body.id });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.match(String(refused.headers["content-type"]), /^application\/problem\+json/);
      assert.equal(refused.body.code, "BW_ERR_CSAF_INVALID");
      assert.deepEqual(
        refused.body.failedTests.map((t) => [t.test, t.path]),
        [["mandatoryTest_6_1_31", "/product_tree/branches/0/branches/0/branches/0/name"]],
      );
      const listed = await server.api<{ items: unknown[] }>("GET", `/api/v1/products/${other}/advisories`);
      assert.deepEqual(listed.body.items, []);
      assert.equal((await get("/.well-known/csaf/white/index.txt")).body, before);
      // Control: the main product's advisories (published in \`before\`) are in the same index.
      assert.equal(before.trim().split("\n").length, 2);
    });

    it("keeps the recommended tests' warnings with the advisory and shows them", async () => {
      const listed = await server.api<{
        items: { trackingId: string; warnings: { test: string; path: string }[] }[];
      }>("GET", `/api/v1/products/${product}/advisories`);
      const [second, first] = listed.body.items;
      assert.ok(second && first);
      // The advisory for CVE-2026-20002 has no CVSS score: §6.2.3 (missing score) warns.
      assert.ok(
        second.warnings.some((w) => w.test === "optionalTest_6_2_3"),
        JSON.stringify(second.warnings),
      );
      // Control: the advisory with a score has no warning at all.
      assert.deepEqual(first.warnings, []);
    });
  });

  it("requirement 1: every listed document is a valid CSAF document (schema and mandatory tests)", async () => {
    assert.equal(documents.length, 2);
    for (const url of documents) {
      const doc = (await get<object>(url)).body;
      const result = await validate(Object.values(extended), doc);
      assert.deepEqual(
        result.tests.flatMap((t) => t.errors.map((e) => `${t.name}: ${e.instancePath} ${e.message}`)),
        [],
      );
      assert.equal(result.isValid, true);
    }
  });

  it("requirement 2: the file name is the tracking id by CSAF 2.0 §5.1", async () => {
    for (const url of documents) {
      const doc = (await get<CsafDoc>(url)).body;
      const name = url.split("/").at(-1)!;
      assert.match(name, /^[+\-a-z0-9_]+\.json$/);
      assert.equal(name, `${doc.document.tracking.id.toLowerCase().replace(/[^+\-a-z0-9]+/g, "_")}.json`);
    }
  });

  it("requirement 3: every published location is https, and the listener does not answer plain HTTP", async () => {
    const urls = [
      meta.canonical_url,
      ...meta.distributions.flatMap((d) => [
        ...(d.directory_url ? [d.directory_url] : []),
        ...(d.rolie ? [...d.rolie.feeds.map((f) => f.url), ...d.rolie.services, ...d.rolie.categories] : []),
      ]),
      ...meta.public_openpgp_keys.map((k) => k.url),
      ...feed.feed.entry.flatMap((e) => e.link.map((l) => l.href)),
      ...documents,
    ];
    assert.ok(urls.length > 10);
    for (const u of urls) assert.equal(new URL(u).protocol, "https:", u);
    // The same port spoken to in clear text: the TLS listener never returns the document.
    const { port } = new URL(server.httpUrl);
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: new URL(documents[0]!).pathname }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
    console.log(`plain HTTP to the TLS listener: ${plain}`);
    assert.match(plain, /^(ECONNRESET|HPE_INVALID_CONSTANT|EPROTO|status 400)$/, plain);
    // Control: the same path over TLS answers.
    assert.equal((await get(documents[0]!)).status, 200);
  });

  it("requirement 4: TLP:WHITE documents, hashes and signatures are reachable without any credential", async () => {
    for (const url of documents)
      for (const [u, type] of [
        // csaf_checker wants exactly application/json for a document.
        [url, /^application\/json$/],
        [`${url}.sha512`, /^text\/plain/],
        [`${url}.asc`, /^application\/pgp-signature/],
      ] as const) {
        const r = await get(u);
        assert.equal(r.status, 200, u);
        assert.match(String(r.headers["content-type"]), type, u);
      }
    // Control: the same server refuses an anonymous caller on an authenticated route.
    assert.equal((await get(`/api/v1/products/${product}/advisories`)).status, 401);
  });

  it("requirement 5: no TLP:AMBER or TLP:RED document is published (every document and feed is WHITE)", async () => {
    for (const url of documents)
      assert.equal((await get<CsafDoc>(url)).body.document.distribution.tlp.label, "WHITE");
    const feeds = meta.distributions.flatMap((d) => d.rolie?.feeds ?? []);
    assert.deepEqual(
      feeds.map((f) => f.tlp_label),
      ["WHITE"],
    );
  });

  it("requirement 6: no redirects: every public CSAF location answers 200 itself", async () => {
    const urls = [
      meta.canonical_url,
      "/.well-known/csaf/white/",
      ...meta.distributions.flatMap((d) =>
        d.rolie ? [d.rolie.feeds[0]!.url, ...d.rolie.services, ...d.rolie.categories] : [],
      ),
      ...meta.public_openpgp_keys.map((k) => k.url),
    ];
    for (const u of urls) {
      const r = await get(u);
      assert.equal(r.status, 200, u);
      assert.equal(r.headers.location, undefined);
    }
  });

  it("requirement 7: provider-metadata.json is valid against the CSAF provider schema", async () => {
    assert.equal(meta.role, "csaf_trusted_provider");
    assert.equal(validators.provider(meta), true, JSON.stringify(validators.provider.errors));
    // Control: the same schema refuses metadata without a role.
    const { role: _role, ...noRole } = meta;
    assert.equal(validators.provider(noRole), false);
  });

  it("requirement 8: security.txt's first CSAF field names the provider metadata, served byte for byte the same", async () => {
    await server.api("PUT", "/api/v1/cra/disclosure", {
      contact: ["mailto:psirt@acme.example"],
      policy: "We coordinate disclosure within 90 days.",
      preferredLanguages: ["en", "de"],
      intakeEnabled: true,
      encryptionKey: null,
    });
    const txt = (await get("/.well-known/security.txt")).body;
    const csaf = txt.split("\n").filter((l) => l.startsWith("CSAF: "));
    assert.deepEqual(csaf, [`CSAF: ${meta.canonical_url}`]);
    assert.match(meta.canonical_url, /^https:\/\//);
    // csaf_checker compares the SHA-256 of the file named there with the well-known one.
    const a = await raw(csaf[0]!.slice("CSAF: ".length));
    const b = await raw("/.well-known/csaf/provider-metadata.json");
    assert.equal(createHash("sha256").update(a).digest("hex"), createHash("sha256").update(b).digest("hex"));
  });

  it("requirement 9: the provider metadata is at /.well-known/csaf/provider-metadata.json over https", async () => {
    assert.equal(new URL(meta.canonical_url).pathname, "/.well-known/csaf/provider-metadata.json");
    assert.equal(new URL(meta.canonical_url).origin, new URL(server.httpUrl).origin);
  });

  it("requirement 10: under the host csaf.data.security.DOMAIN the root serves the same metadata bytes", async () => {
    const wellKnown = await raw("/.well-known/csaf/provider-metadata.json");
    const dns = await fetchBytes("/", "csaf.data.security.acme.example");
    assert.equal(dns.status, 200, dns.body);
    const body = dns.body;
    assert.equal(
      createHash("sha256").update(body).digest("hex"),
      createHash("sha256").update(wellKnown).digest("hex"),
    );
    // Control: under the server's own host name the root is no route.
    assert.equal((await get("/")).status, 404);
  });

  it("requirement 11: each document is in the folder of its initial_release_date's year", async () => {
    for (const url of documents) {
      const doc = (await get<CsafDoc>(url)).body;
      const folder = url.split("/").at(-2);
      assert.equal(folder, String(new Date(doc.document.tracking.initial_release_date).getUTCFullYear()));
    }
  });

  it("requirement 12: index.txt lists every document (the same set as the ROLIE feed)", async () => {
    assert.deepEqual([...documents].sort(), feed.feed.entry.map((e) => e.content.src).sort());
  });

  it("requirement 13: changes.csv has every document with its current_release_date, latest first, no heading", async () => {
    const directory = meta.distributions.find((d) => d.directory_url)!.directory_url!;
    const lines = (await get(`${directory}changes.csv`)).body.trim().split("\n");
    assert.equal(lines.length, documents.length);
    const rows = lines.map((l) => {
      const m = /^"([^"]+)","([^"]+)"$/.exec(l);
      assert.ok(m, l);
      return { path: m[1]!, at: m[2]! };
    });
    for (const row of rows) {
      const doc = (await get<CsafDoc>(new URL(row.path, directory).href)).body;
      assert.equal(row.at, doc.document.tracking.current_release_date);
    }
    for (let i = 1; i < rows.length; i++) assert.ok(Date.parse(rows[i - 1]!.at) >= Date.parse(rows[i]!.at));
  });

  it("requirement 14: directory listings link the year folders and every document, hash and signature", async () => {
    const directory = meta.distributions.find((d) => d.directory_url)!.directory_url!;
    const links = (html: string, base: string) =>
      [...html.matchAll(/<a href="([^"]+)">/g)].map((m) => new URL(m[1]!, base).href);
    const top = await get(directory);
    assert.match(String(top.headers["content-type"]), /^text\/html/);
    const years = [...new Set(documents.map((d) => new URL(".", d).href))];
    for (const y of years) assert.ok(links(top.body, directory).includes(y), y);
    for (const y of years) {
      const listing = links((await get(y)).body, y);
      for (const d of documents.filter((x) => x.startsWith(y)))
        for (const f of [d, `${d}.sha512`, `${d}.asc`]) assert.ok(listing.includes(f), f);
    }
    // Control: a year with no document is not listed.
    assert.equal((await get(`${directory}1999/`)).status, 404);
  });

  it("requirement 15: the TLP:WHITE ROLIE feed is valid and lists every document with hash and signature links", async () => {
    assert.equal(validators.rolieFeed(feed), true, JSON.stringify(validators.rolieFeed.errors));
    assert.equal(feed.feed.entry.length, documents.length);
    for (const e of feed.feed.entry) {
      const rels = Object.fromEntries(e.link.map((l) => [l.rel, l.href]));
      assert.equal(rels.self, e.content.src);
      assert.equal(rels.hash, `${e.content.src}.sha512`);
      assert.equal(rels.signature, `${e.content.src}.asc`);
      const doc = (await get<CsafDoc>(e.content.src)).body;
      assert.equal(e.id, doc.document.tracking.id);
      assert.equal(e.updated, doc.document.tracking.current_release_date);
      assert.equal(e.published, doc.document.tracking.initial_release_date);
    }
    // Control: the schema refuses an entry without its format.
    const broken = structuredClone(feed) as { feed: { entry: Record<string, unknown>[] } };
    delete broken.feed.entry[0]!.format;
    assert.equal(validators.rolieFeed(broken), false);
  });

  it("requirement 16: the ROLIE service document lists exactly the feeds of the provider metadata", async () => {
    const rolie = meta.distributions.find((d) => d.rolie)!.rolie!;
    const service = await get<{ service: { workspace: { collection: { href: string }[] }[] } }>(
      rolie.services[0]!,
    );
    assert.equal(service.status, 200);
    // csaf_checker looks for it next to provider-metadata.json.
    assert.equal(rolie.services[0], new URL("service.json", meta.canonical_url).href);
    assert.deepEqual(
      service.body.service.workspace.flatMap((w) => w.collection.map((c) => c.href)),
      rolie.feeds.map((f) => f.url),
    );
  });

  it("requirement 17: the ROLIE category document dissects the feed by document category and product", async () => {
    const rolie = meta.distributions.find((d) => d.rolie)!.rolie!;
    // csaf_checker looks for category-<tlp>.json next to the feed.
    assert.equal(rolie.categories[0], new URL("category-white.json", rolie.feeds[0]!.url).href);
    const categories = await get<{ categories: { category: { term: string }[] } }>(rolie.categories[0]!);
    const terms = categories.body.categories.category.map((c) => c.term);
    assert.deepEqual(terms, ["csaf_security_advisory", "gateway"]);
    for (const e of feed.feed.entry)
      assert.ok(
        terms.every((t) => e.category.some((c) => c.term === t)),
        JSON.stringify(e.category),
      );
  });

  it("requirement 18: each document has a .sha512 file starting with the SHA-512 of its bytes", async () => {
    for (const url of documents) {
      const body = await raw(url);
      const sha = (await get(`${url}.sha512`)).body;
      assert.match(sha, /^[0-9a-f]{128} {2}[+\-a-z0-9_]+\.json\n$/);
      assert.equal(sha.split(" ")[0], createHash("sha512").update(body).digest("hex"));
    }
  });

  it("requirements 19 and 20: each .asc verifies with the public key the metadata names, whose fingerprint matches", async () => {
    const [key] = meta.public_openpgp_keys;
    assert.ok(key);
    const armoredKey = (await get(key.url)).body;
    const publicKey = await openpgp.readKey({ armoredKey });
    assert.equal(publicKey.getFingerprint().toUpperCase(), key.fingerprint);
    for (const url of documents) {
      const body = await raw(url);
      const signature = await openpgp.readSignature({ armoredSignature: (await get(`${url}.asc`)).body });
      const ok = await openpgp.verify({
        message: await openpgp.createMessage({ binary: Buffer.from(body) }),
        signature,
        verificationKeys: publicKey,
      });
      await assert.doesNotReject(ok.signatures[0]!.verified);
      const bad = await openpgp.verify({
        message: await openpgp.createMessage({ binary: Buffer.from(`${body} `) }),
        signature,
        verificationKeys: publicKey,
      });
      await assert.rejects(bad.signatures[0]!.verified, /Signed digest did not match/);
    }
  });

  describe("signed security.txt (RFC 9116 §2.3)", () => {
    const disclosure = (contact: string, signed: boolean) =>
      server.api("PUT", "/api/v1/cra/disclosure", {
        contact: [contact],
        policy: "We coordinate disclosure within 90 days.",
        preferredLanguages: ["en"],
        intakeEnabled: true,
        encryptionKey: null,
        signed,
      });
    const verify = async (text: string) => {
      const armoredKey = (await get(meta.public_openpgp_keys[0]!.url)).body;
      const message = await openpgp.readCleartextMessage({ cleartextMessage: text });
      const result = await openpgp.verify({
        message,
        verificationKeys: await openpgp.readKey({ armoredKey }),
      });
      await result.signatures[0]!.verified;
      return result.data as string;
    };

    it("is an OpenPGP cleartext signature by the CSAF key over the fields, Canonical and CSAF included", async () => {
      const unsigned = await disclosure("mailto:psirt@acme.example", false);
      assert.equal(unsigned.status, 200);
      assert.doesNotMatch((await get("/.well-known/security.txt")).body, /BEGIN PGP/);
      assert.equal((await disclosure("mailto:psirt@acme.example", true)).status, 200);
      const txt = (await get("/.well-known/security.txt")).body;
      assert.match(txt, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA(256|512)\n\n/);
      const signed = await verify(txt);
      // RFC 9116 §2.3: with a signature, the Canonical field (§2.5.2) ties the file to its location.
      assert.match(
        signed,
        new RegExp(`^Canonical: ${new URL("/.well-known/security.txt", server.httpUrl).href}$`, "m"),
      );
      assert.match(signed, /^Contact: mailto:psirt@acme\.example$/m);
      assert.match(signed, /^Expires: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
      assert.match(signed, new RegExp(`^CSAF: ${meta.canonical_url}$`, "m"));
      // Control: a changed line no longer verifies.
      await assert.rejects(
        verify(txt.replace("mailto:psirt@acme.example", "mailto:evil@evil.example")),
        /Signed digest did not match/,
      );
    });

    it("is signed again when the content changes, and the new signature covers the new content", async () => {
      const before = (await get("/.well-known/security.txt")).body;
      assert.equal((await get("/.well-known/security.txt")).body, before, "unchanged text: same signature");
      assert.equal((await disclosure("mailto:security@acme.example", true)).status, 200);
      const after = (await get("/.well-known/security.txt")).body;
      assert.notEqual(after, before);
      const signed = await verify(after);
      assert.match(signed, /^Contact: mailto:security@acme\.example$/m);
      assert.doesNotMatch(signed, /psirt@/);
    });

    it("verifies with GnuPG (gpgv, the verify-only tool of GnuPG)", async (t) => {
      // gpgv needs no home directory and starts no gpg-agent; `gpg --dearmor` makes its keyring.
      const probe = ["gpg", "gpgv"].map((bin) => spawnSync(bin, ["--version"], { encoding: "utf8" }));
      const missing = probe.find((p) => p.error || p.status !== 0);
      if (missing) {
        const reason = `GnuPG is not installed here (${missing.error?.message ?? `exit ${missing.status}`})`;
        console.log(`skipped: ${reason}`);
        t.skip(reason);
        return;
      }
      const dir = tempDir("bulwark-gnupg-");
      const keyFile = join(dir, "key.asc");
      const keyring = join(dir, "key.gpg");
      writeFileSync(keyFile, (await get(meta.public_openpgp_keys[0]!.url)).body);
      await run("gpg", ["--batch", "--no-options", "--dearmor", "--output", keyring, keyFile], {
        env: { ...process.env, GNUPGHOME: dir },
      });
      const txt = (await get("/.well-known/security.txt")).body;
      const good = join(dir, "security.txt");
      writeFileSync(good, txt);
      const ok = await run("gpgv", ["--keyring", keyring, "--status-fd", "1", good]);
      assert.match(
        ok.stdout,
        new RegExp(`\\[GNUPG:\\] VALIDSIG ${meta.public_openpgp_keys[0]!.fingerprint} `),
      );
      const bad = join(dir, "tampered.txt");
      writeFileSync(bad, txt.replace("Contact: mailto:security@", "Contact: mailto:attacker@"));
      await assert.rejects(
        run("gpgv", ["--keyring", keyring, "--status-fd", "1", bad]),
        (e: Error & { stdout?: string }) => /\[GNUPG:\] BADSIG/.test(e.stdout ?? ""),
      );
    });
  });

  it("BSI csaf_checker, when installed, reports no error for the provider", async (t) => {
    const bin = process.env.CSAF_CHECKER ?? "csaf_checker";
    const probe = spawnSync(bin, ["--version"], { encoding: "utf8" });
    if (probe.error) {
      const reason = `${bin} is not installed here (build it from gocsaf/csaf and set CSAF_CHECKER): ${probe.error.message}`;
      console.log(`skipped: ${reason}`);
      t.skip(reason);
      return;
    }
    const out = join(tempDir("bulwark-csaf-checker-"), "report.json");
    // The direct URL form: the test server listens on a loopback port with its own CA (--insecure).
    await run(bin, ["--insecure", "-f", "json", "-o", out, meta.canonical_url]).catch(
      (e: { code?: number }) => {
        if (typeof e.code !== "number") throw e;
      },
    );
    const report = JSON.parse(readFileSync(out, "utf8")) as {
      domains: { requirements: { num: number; messages: { type: number; text: string }[] | null }[] }[];
    };
    const errors = report.domains.flatMap((d) =>
      d.requirements.flatMap((r) =>
        (r.messages ?? []).filter((m) => m.type === 2).map((m) => `${r.num}: ${m.text}`),
      ),
    );
    // Requirement 10 (the csaf.data.security.DOMAIN DNS name) is a deployment's DNS, not the server's.
    assert.deepEqual(
      errors.filter((e) => !e.startsWith("10:")),
      [],
    );
  });
});

describe("CSAF 2.0 §7.1.3 (requirement 3): no publication under a plain-http public URL", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ args: ["--public-url", "http://csaf.example.test:8080"] });
  });
  after(async () => {
    await server.close();
  });

  it("refuses to publish when the public URL is not https (the https server above publishes)", async () => {
    // The helper addresses the public URL; this one is not the listener, so talk to its port directly.
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await httpsRequest({
        url: `https://127.0.0.1:${server.httpPort}${path}`,
        method,
        ca: server.rootPem,
        headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: JSON.parse(res.body.toString("utf8")) as Record<string, string> };
    };
    const product = (await call("POST", "/api/v1/products", { name: "gateway" })).body.id;
    const refused = await call("POST", `/api/v1/products/${product}/advisories`, {
      releaseId: "00000000-0000-4000-8000-000000000000",
    });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "BW_ERR_CONFLICT");
    assert.match(refused.body.detail!, /https only.*http:\/\/csaf\.example\.test:8080/);
  });
});
