import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromPem, toPem } from "@bulwark/sdk/pem";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, keySigner, spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import { parseCsr, verifyCsr } from "@bulwark/sdk/x509/csr";
import { keyIdentifier } from "@bulwark/sdk/x509/extensions";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { verifyAuditChain } from "../audit/audit-log.ts";
import { FileKeyCustody } from "../custody/file-key-custody.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { bootstrapHierarchy, createCa, listCas } from "./ca.ts";
import { importIssuingCa, requestIssuingCa } from "./ca-import.ts";
import { issueCertificate } from "./issue.ts";
import { caExtensions } from "./profiles.ts";

/** An offline root made outside Bulwark (as on an air-gapped machine): only its certificate comes in. */
function offlineRoot(algorithm: "ecdsa-p384" | "ml-dsa-87" | "slh-dsa-sha2-128s") {
  const keys = generateKeyPair(algorithm);
  const spki = spkiOf(keys.publicKey);
  const name = commonNameOnly(`Offline Root ${algorithm}`);
  const signer = keySigner(algorithm, keys.privateKey);
  const keyId = keyIdentifier(spkiPublicKeyBits(spki));
  const now = Date.now();
  const cert = buildCertificate(
    {
      serial: randomBytes(16),
      issuerDer: name,
      subjectDer: name,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 10 * 86_400_000),
      spki,
      extensions: caExtensions(spki, keyId, 1),
    },
    signer,
  );
  const sign = (csrPem: string) => {
    const csr = parseCsr(fromPem("CERTIFICATE REQUEST", csrPem));
    assert.ok(verifyCsr(csr));
    return toPem(
      "CERTIFICATE",
      buildCertificate(
        {
          serial: randomBytes(16),
          issuerDer: name,
          subjectDer: csr.subjectDer,
          notBefore: new Date(now - 60_000),
          notAfter: new Date(now + 5 * 86_400_000),
          spki: csr.spki,
          extensions: caExtensions(csr.spki, keyId, 0),
        },
        signer,
      ),
    );
  };
  return { pem: toPem("CERTIFICATE", cert), sign };
}

describe("CA hierarchy: algorithms, offline root import, audited key use", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-ca-"));
  let store: SqliteStore;
  let custody: FileKeyCustody;
  before(async () => {
    store = new SqliteStore(join(dir, "db.sqlite"));
    await migrate(store, migrations);
    custody = new FileKeyCustody({ dir: join(dir, "keys"), masterKey: randomBytes(32) });
    await store.transaction((tx) => bootstrapHierarchy(tx, custody));
  });
  after(async () => {
    await store.close();
  });

  for (const algorithm of ["ecdsa-p384", "ml-dsa-44", "ml-dsa-87", "slh-dsa-sha2-128s"] as const) {
    it(`creates a ${algorithm} root with an issuing CA below it (SLH-DSA: root only via the API)`, async () => {
      const issuing = algorithm === "slh-dsa-sha2-128s" ? "ml-dsa-65" : algorithm;
      const [root, ca] = await store.transaction(async (tx) => {
        const r = await createCa(tx, custody, {
          name: `Root ${algorithm}`,
          role: "root",
          algorithm,
          validityYears: 5,
          pathLength: 1,
        });
        const c = await createCa(tx, custody, {
          name: `Issuing ${algorithm}`,
          role: "device",
          algorithm: issuing,
          validityYears: 2,
          pathLength: 0,
          parent: r,
        });
        return [r, c];
      });
      assert.ok(ca.x509.checkIssued(root.x509) && ca.x509.verify(root.x509.publicKey));
      assert.ok(root.x509.verify(root.x509.publicKey));
    });
  }

  it("offline root: the issuing-CA key is generated in custody, its CSR signed elsewhere, the certificate imported", async () => {
    const root = offlineRoot("ecdsa-p384");
    const request = await store.transaction((tx) =>
      requestIssuingCa(tx, custody, { name: "Plant Issuing CA", algorithm: "ecdsa-p256" }),
    );
    const signed = root.sign(request.csrPem);
    const other = offlineRoot("ecdsa-p384");
    // Refusals change nothing: wrong root, wrong key, not a CA.
    await assert.rejects(
      store.transaction((tx) =>
        importIssuingCa(tx, custody, { requestId: request.id, certificatePem: signed, rootPem: other.pem }),
      ),
      /not signed by the given root/,
    );
    const foreign = offlineRoot("ecdsa-p384");
    const otherRequest = await store.transaction((tx) =>
      requestIssuingCa(tx, custody, { name: "Other CA", algorithm: "ecdsa-p256" }),
    );
    await assert.rejects(
      store.transaction((tx) =>
        importIssuingCa(tx, custody, {
          requestId: request.id,
          certificatePem: foreign.sign(otherRequest.csrPem),
          rootPem: foreign.pem,
        }),
      ),
      /not for the key of this request/,
    );
    const before = (await listCas(store)).length;
    const ca = await store.transaction((tx) =>
      importIssuingCa(tx, custody, { requestId: request.id, certificatePem: signed, rootPem: root.pem }),
    );
    const cas = await listCas(store);
    assert.equal(cas.length, before + 2);
    const importedRoot = cas.find((c) => c.id === ca.parentId)!;
    assert.equal(importedRoot.hasKey, false);
    assert.equal(ca.hasKey, true);
    await assert.rejects(
      store.transaction((tx) =>
        importIssuingCa(tx, custody, { requestId: request.id, certificatePem: signed, rootPem: root.pem }),
      ),
      /already imported/,
    );

    // The imported CA issues through custody; the chain verifies up to the offline root.
    const keys = generateKeyPair("ecdsa-p256");
    const issued = await store.transaction((tx) =>
      issueCertificate(tx, custody, {
        ca,
        subjectDer: commonNameOnly("d"),
        subjectText: "CN=d",
        spki: spkiOf(keys.publicKey),
        extensions: [],
        validityMs: 86_400_000,
        deviceId: null,
      }),
    );
    const leaf = new X509Certificate(issued.der);
    assert.ok(leaf.verify(ca.x509.publicKey) && ca.x509.verify(new X509Certificate(root.pem).publicKey));
  });

  it("every CA signature is in the audit log as key.use, the chain verifies, and no key is on disk in clear", async () => {
    const uses = await store.all<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'key.use'`,
    );
    const purposes = new Set(uses.map((u) => (JSON.parse(u.details) as { purpose: string }).purpose));
    assert.deepEqual([...purposes].sort(), ["ca-certificate", "ca-request", "certificate"]);
    assert.equal((await verifyAuditChain(store)).problem, undefined);
    for (const file of readdirSync(join(dir, "keys")))
      assert.doesNotMatch(readFileSync(join(dir, "keys", file), "utf8"), /PRIVATE KEY/);
  });
});
