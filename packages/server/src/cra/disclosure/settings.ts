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

/** Expires is moved forward once less than this is left (RFC 9116 §2.5.5 asks it be kept current). */
export const REFRESH_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * RFC 9116 §2.5.5: a security.txt past its Expires "SHOULD be considered stale", so a file whose
 * owner never saves the settings again must not go stale on its own. Once less than
 * `REFRESH_BEFORE_MS` is left, Expires moves to `nextExpiry(now)`. The update is conditional on
 * the stored value, so concurrent readers refresh once (the one whose UPDATE changed the row gets
 * `refreshed: true`, to audit it).
 */
export async function refreshExpiry(
  db: Queryable,
  settings: DisclosureSettings,
  now: number,
  nextExpiry: (now: number) => number,
): Promise<{ settings: DisclosureSettings; refreshed: boolean }> {
  if (settings.expiresAt - now >= REFRESH_BEFORE_MS) return { settings, refreshed: false };
  const next = { ...settings, expiresAt: nextExpiry(now) };
  const { changes } = await db.run(`UPDATE settings SET value = ? WHERE key = ? AND value = ?`, [
    JSON.stringify(next),
    KEY,
    JSON.stringify(settings),
  ]);
  if (changes > 0) return { settings: next, refreshed: true };
  return { settings: (await disclosureSettings(db)) ?? next, refreshed: false };
}
