import { X509Certificate } from "node:crypto";
import { simpleEnroll } from "../packages/sdk/src/est/client.ts";
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
