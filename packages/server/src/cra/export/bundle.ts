import { createHash } from "node:crypto";
import { zipSync } from "fflate";
import type { DocumentationSigner } from "./doc-signer.ts";
import { toHtml } from "./html.ts";

/** The bundle's manifest: every file with its SHA-256, signed as a whole (`signature.json`). */
export interface Manifest {
  format: "bulwark-cra-export/1";
  product: { id: string; name: string };
  generatedAt: string;
  files: { path: string; sha256: string; size: number }[];
}

export interface ManifestSignature {
  algorithm: "ecdsa-p256-sha256";
  /** base64 DER signature over the exact bytes of manifest.json. */
  signature: string;
  /** Signing certificate (documentSigning EKU) and the service CA, PEM: they chain to the Bulwark root. */
  chain: string[];
}

/**
 * One zip: each document as JSON and HTML, any attachments byte for byte (the SBOMs as uploaded),
 * the manifest of all their hashes and its detached signature.
 */
export async function buildBundle(
  product: { id: string; name: string },
  documents: Record<string, { title: string; body: unknown }>,
  signer: DocumentationSigner,
  attachments: Record<string, Uint8Array> = {},
): Promise<Buffer> {
  const files: Record<string, Uint8Array> = {};
  for (const [name, doc] of Object.entries(documents)) {
    files[`${name}.json`] = Buffer.from(`${JSON.stringify(doc.body, null, 2)}\n`);
    files[`${name}.html`] = Buffer.from(toHtml(doc.title, doc.body));
  }
  for (const [path, bytes] of Object.entries(attachments)) {
    if (path in files || path === "manifest.json" || path === "signature.json")
      throw new Error(`attachment ${path} would overwrite a document`);
    files[path] = bytes;
  }
  const manifest: Manifest = {
    format: "bulwark-cra-export/1",
    product,
    generatedAt: new Date().toISOString(),
    files: Object.entries(files).map(([path, bytes]) => ({
      path,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      size: bytes.length,
    })),
  };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const signature: ManifestSignature = {
    algorithm: "ecdsa-p256-sha256",
    signature: (await signer.sign(manifestBytes)).toString("base64"),
    chain: signer.chain,
  };
  files["manifest.json"] = manifestBytes;
  files["signature.json"] = Buffer.from(`${JSON.stringify(signature, null, 2)}\n`);
  return Buffer.from(zipSync(files, { level: 6 }));
}
