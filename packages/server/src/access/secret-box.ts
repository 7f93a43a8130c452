import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";

/**
 * Small secrets at rest (TOTP seeds, the OIDC client secret, PKCE verifiers): AES-256-GCM under a
 * key derived from the master key with HKDF (RFC 5869), bound to its purpose and owner as
 * associated data so a sealed value cannot be moved to another row. Also a keyed MAC for
 * single-use codes, so a stolen database alone does not allow guessing them offline.
 */
export class SecretBox {
  readonly #sealKey: Buffer;
  readonly #macKey: Buffer;

  constructor(masterKey: Buffer) {
    this.#sealKey = Buffer.from(
      hkdfSync("sha256", masterKey, Buffer.alloc(0), "bulwark:secret-box:seal:v1", 32),
    );
    this.#macKey = Buffer.from(
      hkdfSync("sha256", masterKey, Buffer.alloc(0), "bulwark:secret-box:mac:v1", 32),
    );
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#sealKey, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return ["v1", iv, cipher.getAuthTag(), ciphertext]
      .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
      .join(".");
  }

  open(sealed: string, context: string): string {
    const [version, iv, tag, ciphertext] = sealed.split(".");
    if (version !== "v1" || !iv || !tag || ciphertext === undefined)
      throw new Error("malformed sealed value");
    const decipher = createDecipheriv("aes-256-gcm", this.#sealKey, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString(
      "utf8",
    );
  }

  mac(value: string, context: string): string {
    return createHmac("sha256", this.#macKey).update(context).update("\n").update(value).digest("hex");
  }
}
