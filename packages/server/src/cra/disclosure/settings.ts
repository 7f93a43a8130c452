import type { Queryable } from "../../store/store.ts";

/**
 * The manufacturer's disclosure settings: what `security.txt` (RFC 9116) says and where the
 * coordinated vulnerability disclosure policy lives (CRA Annex I Part II (5), (6)).
 */
export interface DisclosureSettings {
  /** RFC 9116 §2.5.3: at least one, `mailto:` or `https:` URIs. */
  contact: string[];
  /** The CVD policy text (served at /security/policy), in the spirit of ISO/IEC 29147. */
  policy: string | null;
  /** RFC 9116 §2.5.8. */
  preferredLanguages: string[];
  /** When the published file expires (RFC 9116 §2.5.5: less than a year ahead); refreshed on save. */
  expiresAt: number;
  /** Whether the public intake accepts reports. */
  intakeEnabled: boolean;
  /** An OpenPGP public key (armoured) reporters may encrypt to (RFC 9116 §2.5.4 Encryption). */
  encryptionKey: string | null;
  /** Serve security.txt with an OpenPGP cleartext signature by the CSAF key (RFC 9116 §2.3). */
  signed?: boolean;
  updatedAt: number;
}

const KEY = "cra.disclosure";

export async function disclosureSettings(db: Queryable): Promise<DisclosureSettings | undefined> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [KEY]);
  return row ? (JSON.parse(row.value) as DisclosureSettings) : undefined;
}

export async function saveDisclosureSettings(db: Queryable, settings: DisclosureSettings): Promise<void> {
  const value = JSON.stringify(settings);
  const { changes } = await db.run(`UPDATE settings SET value = ? WHERE key = ?`, [value, KEY]);
  if (changes === 0) await db.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [KEY, value]);
}
