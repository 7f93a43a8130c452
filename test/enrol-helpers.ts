import { createPrivateKey, X509Certificate } from "node:crypto";
import { simpleEnroll, simpleReenroll } from "../packages/sdk/src/est/client.ts";
import { fromPemAll, toPem } from "../packages/sdk/src/pem.ts";
import { generateKeyPair, type KeyAlgorithm } from "../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../packages/sdk/src/x509/name.ts";
import type { TestServer } from "./helpers.ts";

export interface EnrolledDevice {
  deviceId: string;
  keyPem: string;
  certPem: string;
  /** Leaf plus the issuing CA, as a TLS client presents it. */
  certChainPem: string;
}

/** Enrols a device in-process through EST with the SDK (the same code path as the agent). */
export async function enrolDirect(
  server: TestServer,
  token: string,
  algorithm: KeyAlgorithm = "ecdsa-p256",
): Promise<EnrolledDevice> {
  const keys = generateKeyPair(algorithm);
  const csrDer = buildCsr({ subjectDer: commonNameOnly("test"), algorithm, ...keys });
  const [certPem] = await simpleEnroll({
    serverUrl: server.httpUrl,
    caPem: server.rootPem,
    csrDer,
    username: "t",
    token,
  });
  const leaf = new X509Certificate(certPem!);
  const deviceId = /urn:uuid:([0-9a-f-]{36})/.exec(leaf.subjectAltName ?? "")![1]!;
  const cas = server.rootPem + (await caBundle(server));
  const issuer = fromPemAll("CERTIFICATE", cas)
    .map((der) => new X509Certificate(der))
    .find((ca) => leaf.checkIssued(ca))!;
  return {
    deviceId,
    keyPem: keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    certPem: certPem!,
    certChainPem: certPem! + toPem("CERTIFICATE", issuer.raw),
  };
}

async function caBundle(server: TestServer): Promise<string> {
  const { parseCertsOnly } = await import("../packages/sdk/src/x509/pkcs7.ts");
  const res = await server.api<string>("GET", "/.well-known/est/cacerts");
  return parseCertsOnly(Buffer.from(res.body, "base64"))
    .map((der) => toPem("CERTIFICATE", der))
    .join("");
}

/** A group whose certificates may renew at once (renewal window = lifetime); returns its name. */
export async function renewableGroup(server: TestServer, name: string): Promise<string> {
  const created = await server.api("POST", "/api/v1/groups", { name });
  if (created.status !== 201) throw new Error(`group create failed: ${JSON.stringify(created.body)}`);
  const policy = await server.api("PUT", `/api/v1/groups/${name}/provisioning-policy`, {
    keyAlgorithms: ["ecdsa-p256"],
    validityDays: 30,
    renewalWindowDays: 30,
  });
  if (policy.status !== 200) throw new Error(`policy failed: ${JSON.stringify(policy.body)}`);
  return name;
}

/**
 * RFC 7030 §4.2.2 simplereenroll with the device's current certificate over mutual TLS (the SDK
 * call the agent makes); `rekey` asks for a new key. Returns the device with its new certificate.
 */
export async function renewDirect(
  server: TestServer,
  device: EnrolledDevice,
  options: { rekey?: boolean } = {},
): Promise<EnrolledDevice> {
  const keys = options.rekey
    ? generateKeyPair("ecdsa-p256")
    : {
        privateKey: createPrivateKey(device.keyPem),
        publicKey: new X509Certificate(device.certPem).publicKey,
      };
  const csrDer = buildCsr({ subjectDer: commonNameOnly("test"), algorithm: "ecdsa-p256", ...keys });
  const [certPem] = await simpleReenroll({
    serverUrl: server.httpUrl,
    caPem: server.rootPem,
    csrDer,
    certPem: device.certChainPem,
    keyPem: device.keyPem,
  });
  return {
    deviceId: device.deviceId,
    keyPem: keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    certPem: certPem!,
    certChainPem: certPem! + device.certChainPem.slice(device.certPem.length),
  };
}

/** The certificate's serial as stored (lowercase hex). */
export const serialOfPem = (pem: string): string =>
  new X509Certificate(pem).serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f]{2})/, "");
