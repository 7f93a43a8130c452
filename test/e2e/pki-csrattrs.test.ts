import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { children, decode, readOid } from "../../packages/sdk/src/der/der.ts";
import { OID } from "../../packages/sdk/src/der/oids.ts";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { createToken, startTestServer, type TestServer } from "../helpers.ts";

/** The OIDs listed at the top level of a CsrAttrs answer (RFC 7030 §4.5.2). */
async function csrattrs(server: TestServer, path: string, token?: string) {
  const res = await httpsRequest({
    url: new URL(path, server.httpUrl).href,
    ca: server.rootPem,
    headers: token ? { authorization: `Basic ${Buffer.from(`d:${token}`).toString("base64")}` } : {},
  });
  if (res.status !== 200) return { status: res.status, oids: [] as string[] };
  const der = Buffer.from(res.body.toString("ascii"), "base64");
  const oids = children(decode(der)).map((n) => (n.tag === 0x06 ? readOid(n) : readOid(children(n)[0]!)));
  return { status: res.status, type: String(res.headers["content-type"]), oids };
}

describe("EST csrattrs per group (RFC 7030 §4.5, labels §3.2.2)", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.api("POST", "/api/v1/groups", { name: "pq" });
    const set = await server.api("PUT", "/api/v1/groups/pq/provisioning-policy", {
      keyAlgorithms: ["ml-dsa-65"],
      validityDays: 30,
      issuingCa: "Bulwark ML-DSA-65 Device Issuing CA",
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  });
  after(async () => {
    await server.close();
  });

  it("the default answer reflects the default group (ECDSA)", async () => {
    const res = await csrattrs(server, "/.well-known/est/csrattrs");
    assert.equal(res.status, 200);
    assert.match(res.type ?? "", /^application\/csrattrs/);
    assert.ok(res.oids.includes(OID.ecPublicKey));
    assert.ok(!res.oids.includes(OID.mlDsa65));
  });

  it("a label selects the group; a token selects its own group; an unknown label is 404", async () => {
    const labelled = await csrattrs(server, "/.well-known/est/pq/csrattrs");
    assert.deepEqual(labelled.oids, [OID.mlDsa65]);
    const byToken = await csrattrs(server, "/.well-known/est/csrattrs", await createToken(server, "pq"));
    assert.deepEqual(byToken.oids, [OID.mlDsa65]);
    assert.equal((await csrattrs(server, "/.well-known/est/nope/csrattrs")).status, 404);
  });
});
