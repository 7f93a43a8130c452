import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { explicit, oid, seq, setOf, Tag, tlv, utf8 } from "../../packages/sdk/src/der/der.ts";
import { OID } from "../../packages/sdk/src/der/oids.ts";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { toPem } from "../../packages/sdk/src/pem.ts";
import { generateKeyPair, spkiOf } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCertificate, keySigner, spkiPublicKeyBits } from "../../packages/sdk/src/x509/certificate.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import {
  basicConstraints,
  extension,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from "../../packages/sdk/src/x509/extensions.ts";
import { hardwareModuleNameGeneralName } from "../../packages/sdk/src/x509/hardware-module-name.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { parseCertsOnly } from "../../packages/sdk/src/x509/pkcs7.ts";
import { CLI, createToken, runCli, startTestServer, type TestServer } from "../helpers.ts";

function csr(extensions: Buffer[] = []): string {
  const keys = generateKeyPair("ecdsa-p256");
  return buildCsr({ subjectDer: commonNameOnly("d"), algorithm: "ecdsa-p256", ...keys, extensions }).toString(
    "base64",
  );
}

async function enrol(
  server: TestServer,
  body: string,
  auth: { basic?: [string, string]; cert?: { keyPem: string; certPem: string } },
) {
  const res = await httpsRequest({
    url: new URL("/.well-known/est/simpleenroll", server.httpUrl).href,
    method: "POST",
    ca: server.rootPem,
    ...(auth.cert ? { cert: auth.cert.certPem, key: auth.cert.keyPem } : {}),
    headers: {
      "content-type": "application/pkcs10",
      ...(auth.basic
        ? { authorization: `Basic ${Buffer.from(auth.basic.join(":")).toString("base64")}` }
        : {}),
    },
    body,
  });
  const text = res.body.toString("utf8");
  if (res.status !== 200)
    return {
      status: res.status,
      code: (JSON.parse(text) as { code: string }).code,
      text,
      deviceId: undefined,
    };
  const leaf = new X509Certificate(parseCertsOnly(Buffer.from(text, "base64"))[0]!);
  return {
    status: 200,
    code: undefined,
    text,
    deviceId: /urn:uuid:([0-9a-f-]{36})/.exec(leaf.subjectAltName ?? "")![1],
  };
}

/** A manufacturer's CA and one factory certificate it issued (made here, as a factory would). */
function manufacturer(name: string) {
  const caKeys = generateKeyPair("ecdsa-p256");
  const caSpki = spkiOf(caKeys.publicKey);
  const caName = commonNameOnly(name);
  const signer = keySigner("ecdsa-p256", caKeys.privateKey);
  const now = Date.now();
  const ca = buildCertificate(
    {
      serial: randomBytes(8),
      issuerDer: caName,
      subjectDer: caName,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      spki: caSpki,
      extensions: [
        basicConstraints(true, 0),
        keyUsage(["keyCertSign"]),
        subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(caSpki))),
      ],
    },
    signer,
  );
  // A unit's factory certificate; with a hardware serial in its subject as IEEE 802.1AR §8.6 puts it
  // (X.520 serialNumber, a PrintableString), and/or a SubjectAltName naming its module (`altName`).
  const unit = (hardwareSerial?: string, altName?: Buffer) => {
    const deviceKeys = generateKeyPair("ecdsa-p256");
    const cn = setOf(seq(oid(OID.commonName), utf8(`${name} unit ${randomBytes(4).toString("hex")}`)));
    const sn = hardwareSerial
      ? [setOf(seq(oid(OID.serialNumber), tlv(Tag.PRINTABLE_STRING, Buffer.from(hardwareSerial, "ascii"))))]
      : [];
    const factory = buildCertificate(
      {
        serial: randomBytes(8),
        issuerDer: caName,
        subjectDer: seq(cn, ...sn),
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        spki: spkiOf(deviceKeys.publicKey),
        extensions: [
          basicConstraints(false),
          keyUsage(["digitalSignature"]),
          extKeyUsage([OID.clientAuth]),
          ...(altName ? [altName] : []),
        ],
      },
      signer,
    );
    return {
      certPem: toPem("CERTIFICATE", factory),
      keyPem: deviceKeys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    };
  };
  return { caPem: toPem("CERTIFICATE", ca), claim: unit(), unit };
}

interface DeviceView {
  id: string;
  serial: string | null;
  groupName: string;
  enrolledVia: string;
}

const device = async (server: TestServer, id: string) =>
  (await server.api<DeviceView>("GET", `/api/v1/devices/${id}`)).body;

/** The devices the list API finds by hardware serial. */
const bySerial = async (server: TestServer, serial: string) =>
  (
    await server.api<{ items: DeviceView[] }>("GET", `/api/v1/devices?serial=${encodeURIComponent(serial)}`)
  ).body.items.map((d) => d.id);

describe("provisioning policies: methods, refusals with reasons, nothing changed on refusal", () => {
  let server: TestServer;
  let counts: () => Promise<string>;
  let baseline: string;
  const env = () => ({
    BULWARK_URL: server.httpUrl,
    BULWARK_API_KEY: server.adminKey,
    BULWARK_CA_FILE: server.rootPemPath,
  });

  before(async () => {
    server = await startTestServer();
    counts = async () => {
      const n = async (t: string) =>
        (await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n;
      return JSON.stringify([
        await n("devices"),
        await n("certificates"),
        await n("device_claims"),
        await n("registered_devices WHERE device_id IS NOT NULL"),
      ]);
    };
    for (const [group, methods] of [
      ["line", ["registered-serial"]],
      ["factory", ["claim"]],
    ] as const) {
      await server.api("POST", "/api/v1/groups", { name: group });
      const set = await runCli(
        CLI,
        [
          "policy",
          "set",
          group,
          "--key-algorithms",
          "ecdsa-p256",
          "--validity-days",
          "90",
          "--methods",
          methods.join(","),
        ],
        env(),
      );
      assert.equal(set.code, 0, set.stderr);
    }
  });
  beforeEach(async () => {
    baseline = await counts();
  });
  after(async () => {
    await server.close();
  });

  it("a pre-registered serial number with its bootstrap secret enrols, and re-enrols as the same device", async () => {
    const registered = await runCli(CLI, ["serial", "register", "line", "SN-0001"], env());
    assert.equal(registered.code, 0, registered.stderr);
    const secret = registered.stdout.trim();
    assert.match(secret, /^bwbs_/);
    const wrong = await enrol(server, csr(), { basic: ["SN-0001", "bwbs_wrong-secret-000000000000"] });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.code, "BW_ERR_BOOTSTRAP_SECRET_INVALID");
    const unknown = await enrol(server, csr(), { basic: ["SN-9999", secret] });
    assert.equal(unknown.code, "BW_ERR_BOOTSTRAP_SECRET_INVALID");
    assert.equal(await counts(), baseline);
    const first = await enrol(server, csr(), { basic: ["SN-0001", secret] });
    assert.equal(first.status, 200, first.text);
    const again = await enrol(server, csr(), { basic: ["SN-0001", secret] });
    assert.equal(again.deviceId, first.deviceId);
    // The serial it enrolled with is its hardware serial: on the record, filterable, shown by the CLI.
    assert.equal((await device(server, first.deviceId!)).serial, "SN-0001");
    assert.deepEqual(await bySerial(server, "SN-0001"), [first.deviceId]);
    const listed = await runCli(CLI, ["device", "list", "--serial", "SN-0001"], env());
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${first.deviceId}\\s+SN-0001\\s+line\\s+active`, "m"));
    assert.match(listed.stdout, /^1 device\(s\)$/m);
    const shown = await runCli(CLI, ["device", "show", first.deviceId!], env());
    assert.equal((JSON.parse(shown.stdout) as DeviceView).serial, "SN-0001");
    // A serial an operator set is kept on re-enrolment; a cleared one is filled again.
    await server.api("PATCH", `/api/v1/devices/${first.deviceId}`, { serial: "ASSET-7" });
    await enrol(server, csr(), { basic: ["SN-0001", secret] });
    assert.equal((await device(server, first.deviceId!)).serial, "ASSET-7");
    await server.api("PATCH", `/api/v1/devices/${first.deviceId}`, { serial: null });
    await enrol(server, csr(), { basic: ["SN-0001", secret] });
    assert.equal((await device(server, first.deviceId!)).serial, "SN-0001");
    const dup = await runCli(CLI, ["serial", "register", "line", "SN-0001"], env());
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already registered/);
  });

  /** Registers a manufacturing CA whose claim certificates enrol into the `factory` group. */
  async function registerClaimCa(name: string, caPem: string): Promise<void> {
    const registered = await server.api("POST", "/api/v1/claim-cas", {
      name,
      group: "factory",
      certificatePem: caPem,
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
  }

  it("a claim certificate from a registered manufacturing CA is exchanged for an operational one; unknown CAs are refused", async () => {
    const acme = manufacturer("Acme Factory CA");
    await registerClaimCa("acme", acme.caPem);
    const rogue = manufacturer("Rogue CA");
    const refused = await enrol(server, csr(), { cert: rogue.claim });
    assert.equal(refused.status, 401);
    assert.equal(refused.code, "BW_ERR_CLAIM_CA_UNKNOWN");
    assert.equal(await counts(), baseline);
    const claimed = await enrol(server, csr(), { cert: acme.claim });
    assert.equal(claimed.status, 200, claimed.text);
    const claimedDevice = await device(server, claimed.deviceId!);
    assert.equal(claimedDevice.groupName, "factory");
    assert.equal(claimedDevice.enrolledVia, "claim");
    assert.equal(claimedDevice.serial, null, "this factory certificate names no serial");
    assert.equal((await enrol(server, csr(), { cert: acme.claim })).deviceId, claimed.deviceId);
  });

  it("a claim certificate naming a hardware serial (802.1AR subject serialNumber) puts it on the device", async () => {
    const initech = manufacturer("Initech Factory CA");
    await registerClaimCa("initech", initech.caPem);
    const unit = initech.unit("INI-2026-000123");
    const claimed = await enrol(server, csr(), { cert: unit });
    assert.equal(claimed.status, 200, claimed.text);
    assert.equal((await device(server, claimed.deviceId!)).serial, "INI-2026-000123");
    assert.deepEqual(await bySerial(server, "INI-2026-000123"), [claimed.deviceId]);
    const listed = await runCli(CLI, ["device", "list", "--serial", "INI-2026-000123"], env());
    assert.match(listed.stdout, new RegExp(`^${claimed.deviceId}\\s+INI-2026-000123\\s+factory`, "m"));
    const enrolled = await server.store.get<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'device.enrol' AND target_id = ?`,
      [claimed.deviceId!],
    );
    assert.equal(JSON.parse(enrolled!.details).hardwareSerial, "INI-2026-000123");
  });

  it("a claim certificate naming its module in the SubjectAltName (RFC 4108 hardwareModuleName) puts that serial on the device", async () => {
    const globex = manufacturer("Globex Factory CA");
    await registerClaimCa("globex", globex.caPem);
    const moduleName = (hwSerialNum: Buffer) =>
      subjectAltName({
        otherNames: [hardwareModuleNameGeneralName({ hwType: "1.3.6.1.4.1.55555.1.1", hwSerialNum })],
      });
    // A binary hwSerialNum, beside a subject serialNumber: the SubjectAltName wins, kept as hex.
    const unit = globex.unit("GLX-SUBJECT-1", moduleName(Buffer.from([0x00, 0x1b, 0xc5, 0xfe])));
    const claimed = await enrol(server, csr(), { cert: unit });
    assert.equal(claimed.status, 200, claimed.text);
    assert.equal((await device(server, claimed.deviceId!)).serial, "001bc5fe");
    assert.deepEqual(await bySerial(server, "001bc5fe"), [claimed.deviceId]);
    // A hardwareModuleName whose hwSerialNum is no OCTET STRING names nothing; the enrolment goes on.
    const malformed = seq(
      oid(OID.hardwareModuleName),
      explicit(0, seq(oid("1.3.6.1.4.1.55555.1.1"), utf8("x"))),
    );
    malformed[0] = 0xa0;
    const odd = globex.unit("GLX-SUBJECT-2", subjectAltName({ otherNames: [malformed] }));
    const oddClaimed = await enrol(server, csr(), { cert: odd });
    assert.equal(oddClaimed.status, 200, oddClaimed.text);
    assert.equal((await device(server, oddClaimed.deviceId!)).serial, "GLX-SUBJECT-2");
  });

  it("a token enrolment knows no hardware serial: none is stored, whatever the CSR says", async () => {
    const keys = generateKeyPair("ecdsa-p256");
    // The requester's own subject (with a serialNumber) is a label, not proof: the server names the device.
    const subjectDer = seq(
      setOf(seq(oid(OID.commonName), utf8("d"))),
      setOf(seq(oid(OID.serialNumber), tlv(Tag.PRINTABLE_STRING, Buffer.from("CLAIMED-1", "ascii")))),
    );
    const request = buildCsr({ subjectDer, algorithm: "ecdsa-p256", ...keys }).toString("base64");
    const enrolled = await enrol(server, request, { basic: ["x", await createToken(server)] });
    assert.equal(enrolled.status, 200, enrolled.text);
    assert.equal((await device(server, enrolled.deviceId!)).serial, null);
    assert.deepEqual(await bySerial(server, "CLAIMED-1"), []);
  });

  it("a method the group's policy does not allow is refused with the reason", async () => {
    const token = await createToken(server, "factory");
    const res = await enrol(server, csr(), { basic: ["x", token] });
    assert.equal(res.status, 403);
    assert.equal(res.code, "BW_ERR_ENROLMENT_METHOD_NOT_ALLOWED");
    assert.match(res.text, /group factory does not accept token enrolment \(allowed: claim\)/);
    assert.equal(await counts(), baseline);
  });

  it("requested CA basic constraints or unknown extensions are refused; the token survives", async () => {
    const token = await createToken(server);
    const asCa = await enrol(server, csr([basicConstraints(true)]), { basic: ["x", token] });
    assert.equal(asCa.status, 400);
    assert.equal(asCa.code, "BW_ERR_CSR_POLICY");
    assert.match(asCa.text, /cannot be a CA/);
    const odd = await enrol(server, csr([extension("1.2.3.4.5", true, Buffer.from([5, 0]))]), {
      basic: ["x", token],
    });
    assert.equal(odd.code, "BW_ERR_CSR_POLICY");
    assert.match(odd.text, /requested extension 1\.2\.3\.4\.5 is not allowed/);
    assert.equal(await counts(), baseline);
    assert.equal((await enrol(server, csr(), { basic: ["x", token] })).status, 200);
  });

  it("policy validation: unknown issuing CA, window longer than validity, bad algorithm", async () => {
    const put = (body: unknown) =>
      server.api<{ code: string }>("PUT", "/api/v1/groups/line/provisioning-policy", body);
    assert.equal(
      (await put({ keyAlgorithms: ["ecdsa-p256"], validityDays: 30, issuingCa: "Nope" })).body.code,
      "BW_ERR_CA_NOT_FOUND",
    );
    assert.equal(
      (await put({ keyAlgorithms: ["ecdsa-p256"], validityDays: 30, renewalWindowDays: 31 })).body.code,
      "BW_ERR_VALIDATION",
    );
    assert.equal((await put({ keyAlgorithms: ["rsa-2048"], validityDays: 30 })).status, 400);
  });
});
