import { createHash, verify, X509Certificate } from "node:crypto";
import { unzipSync } from "fflate";

/** RFC 9336: id-kp-documentSigning, the only EKU the documentation signer's certificate carries. */
const DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36";

export interface ExportVerification {
  ok: boolean;
  problems: string[];
  files: number;
  product: string | null;
  signer: string | null;
}

interface Manifest {
  format: string;
  product: { id: string; name: string };
  files: { path: string; sha256: string; size: number }[];
}

/**
 * Verifies a CRA export offline: the signature over manifest.json by a documentSigning certificate
 * that chains (through the service CA) to the given root, and every file against its SHA-256 in the
 * manifest, with no file missing or added.
 */
export function verifyExport(zip: Uint8Array, rootPem: string, now = new Date()): ExportVerification {
  const problems: string[] = [];
  const files = unzipSync(zip);
  const manifestBytes = files["manifest.json"];
  const signatureBytes = files["signature.json"];
  if (!manifestBytes || !signatureBytes)
    return {
      ok: false,
      problems: ["manifest.json or signature.json is missing"],
      files: 0,
      product: null,
      signer: null,
    };
  const manifest = JSON.parse(Buffer.from(manifestBytes).toString("utf8")) as Manifest;
  const sig = JSON.parse(Buffer.from(signatureBytes).toString("utf8")) as {
    signature: string;
    chain: string[];
  };
  const [leaf, ca] = sig.chain.map((pem) => new X509Certificate(pem));
  const root = new X509Certificate(rootPem);
  if (!leaf || !ca) problems.push("the signature carries no certificate chain");
  else {
    if (!root.verify(root.publicKey)) problems.push("the root is not self-signed");
    if (!ca.verify(root.publicKey)) problems.push("the signing CA is not issued by the given root");
    if (!leaf.verify(ca.publicKey)) problems.push("the signing certificate is not issued by its CA");
    for (const c of [leaf, ca])
      if (new Date(c.validFrom) > now || new Date(c.validTo) < now)
        problems.push(`${c.subject} is not valid now`);
    if (!(leaf.keyUsage ?? []).includes(DOCUMENT_SIGNING))
      problems.push("the signing certificate lacks the documentSigning EKU");
    if (!verify("sha256", manifestBytes, leaf.publicKey, Buffer.from(sig.signature, "base64")))
      problems.push("the manifest signature does not verify");
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const f of manifest.files) {
    const bytes = files[f.path];
    if (!bytes) problems.push(`${f.path} is missing`);
    else if (createHash("sha256").update(bytes).digest("hex") !== f.sha256)
      problems.push(`${f.path} does not match its hash`);
  }
  for (const name of Object.keys(files))
    if (!listed.has(name) && name !== "manifest.json" && name !== "signature.json")
      problems.push(`${name} is not in the manifest`);
  return {
    ok: problems.length === 0,
    problems,
    files: manifest.files.length,
    product: manifest.product?.name ?? null,
    signer: leaf?.subject ?? null,
  };
}
