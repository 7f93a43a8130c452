/** CSAF 2.0 §5.1: the file name is the tracking id, lower-cased, other characters than [+\-a-z0-9] as `_`. */
export function csafFileName(trackingId: string): string {
  return `${trackingId.toLowerCase().replace(/[^+\-a-z0-9]+/g, "_")}.json`;
}

/** CSAF 2.0 §7.1.11 (requirement 11): one folder per year of the initial release date. */
export const yearOf = (at: number): string => String(new Date(at).getUTCFullYear());

/** Where TLP:WHITE documents are listed (requirement 8/11: a directory under /.well-known/csaf/). */
export const WHITE_DIRECTORY = "/.well-known/csaf/white/";
export const PROVIDER_METADATA = "/.well-known/csaf/provider-metadata.json";

/** Keys sorted alphabetically at every level (CSAF 2.0 §6.2.13, a recommended test). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}
