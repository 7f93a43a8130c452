import type { DisclosureSettings } from "./settings.ts";

/** A year is the most RFC 9116 §2.5.5 recommends between now and Expires. */
export const MAX_EXPIRY_MS = 365 * 24 * 3600 * 1000;

/** The Expires a save or a refresh sets: a day inside the year, so clock skew never exceeds it. */
export const nextExpiry = (now: number): number => now + MAX_EXPIRY_MS - 24 * 3600 * 1000;

export interface SecurityTxtUrls {
  /** The public base URL (https). */
  base: string;
  /** The CSAF provider metadata URL, when the platform publishes advisories as a CSAF provider. */
  csafProviderMetadata: string | null;
}

/**
 * The `security.txt` file (RFC 9116): Contact (§2.5.3, one line each), Expires (§2.5.5),
 * Encryption (§2.5.4), Policy (§2.5.7), Preferred-Languages (§2.5.8), Canonical (§2.5.2), and
 * the CSAF field (CSAF 2.0 §7.1.8: the provider-metadata.json location).
 */
export function securityTxt(settings: DisclosureSettings, urls: SecurityTxtUrls): string {
  const url = (path: string) => new URL(path, urls.base).href;
  const lines = [
    ...settings.contact.map((c) => `Contact: ${c}`),
    `Expires: ${new Date(settings.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z")}`,
    ...(settings.encryptionKey ? [`Encryption: ${url("/security/encryption-key")}`] : []),
    ...(settings.policy ? [`Policy: ${url("/security/policy")}`] : []),
    ...(settings.preferredLanguages.length
      ? [`Preferred-Languages: ${settings.preferredLanguages.join(", ")}`]
      : []),
    `Canonical: ${url("/.well-known/security.txt")}`,
    ...(urls.csafProviderMetadata ? [`CSAF: ${urls.csafProviderMetadata}`] : []),
  ];
  return `${lines.join("\n")}\n`;
}
