import { type DeltaFormat, type DeltaPolicy, UNADVERTISED_DELTA_FORMATS } from "@bulwark/sdk/wire/delta";
import type { Queryable } from "../store/store.ts";
import { deltasOf } from "./delta-queries.ts";

/**
 * Which devices can apply a release's deltas (issue #15 item 10). Each agent advertises the delta
 * formats it applies (`deltaFormats` in its metadata, `@bulwark/sdk/wire/metadata`; stored per
 * device, migration 980); an agent that advertises none is taken to know `zstd-dict` only
 * (`UNADVERTISED_DELTA_FORMATS`). The device still chooses and checks everything from signed TUF
 * metadata (a format it does not know is never picked): the server uses the advertisement only to
 * leave out of a deployment that requires a delta the devices it would send a job they must fail.
 */

/** What a deployment asks of a device's agent: its delta policy and the formats of the release's deltas. */
export interface DeltaNeed {
  policy: DeltaPolicy;
  /** Every format the release's delta targets come in, sorted (none under `off`). */
  formats: DeltaFormat[];
}

/**
 * The release's delta formats under `policy`. All of them are asked for: the server cannot tell
 * which base a device's image is (the agent picks the delta by the hash of its actual image), and
 * under `require` a job of every target must come from a delta, so a device is sent the job only
 * when it can apply whichever delta it will find. With the default of one base release per delta,
 * every artifact's deltas come in one format.
 */
export async function deltaNeedOf(db: Queryable, releaseId: string, policy: DeltaPolicy): Promise<DeltaNeed> {
  if (policy === "off") return { policy, formats: [] };
  const formats = new Set((await deltasOf(db, releaseId)).map((d) => d.format));
  return { policy, formats: [...formats].sort() };
}

/** The formats a device's agent applies: those it advertised, else `zstd-dict` only. */
export function appliedFormats(advertised: readonly string[] | null | undefined): readonly string[] {
  return advertised ?? UNADVERTISED_DELTA_FORMATS;
}

/** The release's delta formats the device's agent cannot apply (empty: it applies them all). */
export function missingFormats(
  need: DeltaNeed,
  advertised: readonly string[] | null | undefined,
): DeltaFormat[] {
  const applied = appliedFormats(advertised);
  return need.formats.filter((f) => !applied.includes(f));
}

/** The devices whose agent cannot apply one of the release's delta formats. */
export function unableDevices<T extends { id: string; deltaFormats: string[] | null }>(
  need: DeltaNeed,
  devices: readonly T[],
): T[] {
  if (need.formats.length === 0) return [];
  return devices.filter((d) => missingFormats(need, d.deltaFormats).length > 0);
}

/** The status line for `count` devices whose agent cannot apply the release's deltas, per policy. */
export function deltaUnsupportedReason(need: DeltaNeed, count: number): string | null {
  if (count === 0) return null;
  const formats = need.formats.join(", ");
  const who = `${count} device(s) whose agent cannot apply ${formats} deltas (an agent that advertises no delta formats is taken to know ${UNADVERTISED_DELTA_FORMATS.join(", ")} only)`;
  return need.policy === "require"
    ? `${who} are left out: the deployment requires a delta; each is taken in once its agent advertises the format (upgrade the agent, or deploy with delta prefer)`
    : `${who} take the full image`;
}

/** How a device's advertisement reads in an error: `zstd-dict` or `none advertised (zstd-dict assumed)`. */
export function advertisedText(advertised: readonly string[] | null): string {
  if (advertised === null) return `none advertised, ${UNADVERTISED_DELTA_FORMATS.join(", ")} assumed`;
  return advertised.length === 0 ? "no delta format" : advertised.join(", ");
}
