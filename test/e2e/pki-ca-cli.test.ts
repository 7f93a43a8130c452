import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromPem, toPem } from "../../packages/sdk/src/pem.ts";
import { generateKeyPair, spkiOf } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCertificate, keySigner, spkiPublicKeyBits } from "../../packages/sdk/src/x509/certificate.ts";
import { parseCsr } from "../../packages/sdk/src/x509/csr.ts";
import { keyIdentifier } from "../../packages/sdk/src/x509/extensions.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { caExtensions } from "../../packages/server/src/pki/profiles.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { CLI, createToken, runCli, startTestServer, type TestServer, tempDir } from "../helpers.ts";

describe("CA management through the CLI: create, offline-root import, a group on the new chain", () => {
  let server: TestServer;
  const env = () => ({
    BULWARK_URL: server.httpUrl,
    BULWARK_API_KEY: server.adminKey,
    BULWARK_CA_FILE: server.rootPemPath,
  });
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("`ca create` makes an ML-DSA-87 root and issuing CA; a group enrols ML-DSA-87 devices under it", async () => {
    const root = await runCli(
      CLI,
      ["ca", "create", "--name", "Fleet PQ Root", "--role", "root", "--algorithm", "ml-dsa-87"],
      env(),
    );
    assert.equal(root.code, 0, root.stderr);
    const issuing = await runCli(
      CLI,
      [
        "ca",
        "create",
        "--name",
        "Fleet PQ Issuing",
        "--role",
        "device",
        "--algorithm",
        "ml-dsa-87",
        "--parent",
        "Fleet PQ Root",
      ],
      env(),
    );
    assert.equal(issuing.code, 0, issuing.stderr);
    const slhIssuing = await runCli(
      CLI,
      [
        "ca",
        "create",
        "--name",
        "SLH Issuing",
        "--role",
        "device",
        "--algorithm",
        "slh-dsa-sha2-128s",
        "--parent",
        "Fleet PQ Root",
      ],
      env(),
    );
    assert.equal(slhIssuing.code, 1);
    assert.match(slhIssuing.stderr, /only allowed for a root CA/);
    const listed = await runCli(CLI, ["ca", "list"], env());
    assert.match(listed.stdout, /Fleet PQ Issuing\s+device\s+ml-dsa-87\s+custody/);
    await server.api("POST", "/api/v1/groups", { name: "pq87" });
    const set = await runCli(
      CLI,
      [
        "policy",
        "set",
        "pq87",
        "--key-algorithms",
        "ml-dsa-87",
        "--validity-days",
        "30",
        "--issuing-ca",
        "Fleet PQ Issuing",
      ],
      env(),
    );
    assert.equal(set.code, 0, set.stderr);
    const device = await enrolDirect(server, await createToken(server, "pq87"), "ml-dsa-87");
    assert.match(new X509Certificate(device.certPem).issuer, /Fleet PQ Issuing/);
  });

  it("`ca request` → signed by an offline root elsewhere → `ca import`; a group issues from the imported CA", async () => {
    const requested = await runCli(
      CLI,
      ["ca", "request", "--name", "Plant Issuing CA", "--algorithm", "ecdsa-p256"],
      env(),
    );
    assert.equal(requested.code, 0, requested.stderr);
    const [requestId, ...pem] = requested.stdout.split("\n");
    const csr = parseCsr(fromPem("CERTIFICATE REQUEST", pem.join("\n")));
    // The offline root, on another machine.
    const keys = generateKeyPair("ecdsa-p384");
    const spki = spkiOf(keys.publicKey);
    const name = commonNameOnly("Offline Plant Root");
    const signer = keySigner("ecdsa-p384", keys.privateKey);
    const keyId = keyIdentifier(spkiPublicKeyBits(spki));
    const now = Date.now();
    const window = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) };
    const rootDer = buildCertificate(
      {
        serial: randomBytes(16),
        issuerDer: name,
        subjectDer: name,
        ...window,
        spki,
        extensions: caExtensions(spki, keyId, 1),
      },
      signer,
    );
    const issuedDer = buildCertificate(
      {
        serial: randomBytes(16),
        issuerDer: name,
        subjectDer: csr.subjectDer,
        ...window,
        spki: csr.spki,
        extensions: caExtensions(csr.spki, keyId, 0),
      },
      signer,
    );
    const dir = tempDir("bulwark-offline-");
    writeFileSync(join(dir, "root.pem"), toPem("CERTIFICATE", rootDer));
    writeFileSync(join(dir, "issuing.pem"), toPem("CERTIFICATE", issuedDer));
    const wrongRoot = await runCli(
      CLI,
      ["ca", "import", requestId!, "--cert", join(dir, "issuing.pem"), "--root", join(dir, "issuing.pem")],
      env(),
    );
    assert.equal(wrongRoot.code, 1);
    assert.match(wrongRoot.stderr, /self-signed/);
    const imported = await runCli(
      CLI,
      ["ca", "import", requestId!, "--cert", join(dir, "issuing.pem"), "--root", join(dir, "root.pem")],
      env(),
    );
    assert.equal(imported.code, 0, imported.stderr);
    const listed = await runCli(CLI, ["ca", "list"], env());
    assert.match(listed.stdout, /Offline Plant Root \(offline, [0-9a-f]{8}\)\s+root\s+ecdsa-p384\s+offline/);
    await server.api("POST", "/api/v1/groups", { name: "plant" });
    await runCli(
      CLI,
      [
        "policy",
        "set",
        "plant",
        "--key-algorithms",
        "ecdsa-p256",
        "--validity-days",
        "30",
        "--issuing-ca",
        "Plant Issuing CA",
      ],
      env(),
    );
    const device = await enrolDirect(server, await createToken(server, "plant"));
    const leaf = new X509Certificate(device.certPem);
    assert.ok(leaf.verify(new X509Certificate(issuedDer).publicKey));
  });
});
