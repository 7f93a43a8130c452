import { createHash } from "node:crypto";
import type { Queryable } from "../../store/store.ts";

/**
 * The OpenPGP-signed form of security.txt (RFC 9116 §2.3: "It is RECOMMENDED that a security.txt
 * file be digitally signed using an OpenPGP cleartext signature", with the Canonical field of
 * §2.5.2 so the signature also authenticates the file's location). The signature is kept with the
 * SHA-256 of the text it covers and made again whenever the text differs: a settings change, a
 * refreshed Expires (§2.5.5), or the CSAF line appearing once advisories are published.
 */
const KEY = "cra.security-txt-signature";

interface Cached {
  sha256: string;
  signed: string;
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

export async function signedSecurityTxt(
  db: Queryable,
  text: string,
  sign: (text: string) => Promise<string>,
): Promise<string> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [KEY]);
  const cached = row ? (JSON.parse(row.value) as Cached) : undefined;
  const digest = sha256(text);
  if (cached?.sha256 === digest) return cached.signed;
  const signed = await sign(text);
  const value = JSON.stringify({ sha256: digest, signed } satisfies Cached);
  // Two requests may sign the same new text at once: either signature is valid, the last one stays.
  const { changes } = await db.run(`UPDATE settings SET value = ? WHERE key = ?`, [value, KEY]);
  if (changes === 0)
    await db
      .run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [KEY, value])
      .catch(() => db.run(`UPDATE settings SET value = ? WHERE key = ?`, [value, KEY]));
  return signed;
}
