import { detectTpm, hasTpmKek, TpmError, type TpmOptions, tpm2 } from "../tpm-kek.ts";

/**
 * Where the anti-rollback floor is kept outside the store, so that putting back an older copy of
 * the store (or of the whole storage) cannot lower it: `JobStore` takes the higher of the two
 * per component and raises both.
 */
export interface FloorAnchor {
  /** The floors held here; empty when none was written yet. */
  read(): HeldFloors;
  /** Raises the held floors to at least these (never lowers one); a read-only anchor ignores it. */
  raise(held: HeldFloors, newer: (a: string, b: string) => string): void;
  /** Said in log lines: where the floor is held. */
  readonly where: string;
}

/** Per component: the version floor (newest security version) and the counter floor (highest signed counter). */
export interface HeldFloors {
  floors: Record<string, string>;
  counters: Record<string, number>;
}

/** NV index of the floor, in the owner range 0x01000000-0x013FFFFF (TCG Registry of Reserved TPM 2.0 Handles and Localities). */
export const DEFAULT_FLOOR_INDEX = "0x01310b17";
const SIZE = 1024;

/**
 * The floor in an ordinary TPM 2.0 NV index (TPM2_NV_DefineSpace / NV_Write / NV_Read, TCG TPM 2.0
 * Library Part 3 §31), owner-authorised, 1,024 bytes: JSON `{"v":1,"floors":{…},"counters":{…}}`
 * padded with NUL (`counters`, the signed anti-rollback counters, is optional: an index an older
 * agent wrote has none, and an older agent reads past it).
 * The TPM's non-volatile memory is not on the device's storage, so neither an older copy of the
 * state directory nor a re-flashed disk brings an older floor back. Not protected: an attacker
 * running code as root with the TPM's owner authorisation (empty by default) can write the index —
 * but such an attacker can also unseal the store's KEK. Written only when a floor rises (a
 * security release installed), so NV wear is no concern. Kept by `bulwark-agent reset` and a
 * remote wipe, as a hardware anti-rollback counter (eFuse) outlives a factory reset: the device
 * never again installs below it.
 */
export function tpmFloorAnchor(tpm: TpmOptions, index = DEFAULT_FLOOR_INDEX, writable = true): FloorAnchor {
  const defined = () => {
    const listed = tpm2(tpm, "tpm2_getcap", ["handles-nv-index"]).toString("utf8");
    const want = Number.parseInt(index, 16);
    return [...listed.matchAll(/0x[0-9a-f]+/gi)].some((m) => Number.parseInt(m[0], 16) === want);
  };
  const read = (): HeldFloors => {
    if (!defined()) return { floors: {}, counters: {} };
    const bytes = tpm2(tpm, "tpm2_nvread", ["-C", "o", "-s", String(SIZE), index]);
    const end = bytes.indexOf(0);
    const text = bytes.subarray(0, end === -1 ? bytes.length : end).toString("utf8");
    let value: { v?: unknown; floors?: Record<string, unknown>; counters?: unknown };
    try {
      value = JSON.parse(text) as typeof value;
    } catch {
      throw new TpmError(`the TPM NV index ${index} does not hold an anti-rollback floor`);
    }
    if (value.v !== 1 || typeof value.floors !== "object" || value.floors === null)
      throw new TpmError(`the TPM NV index ${index} does not hold an anti-rollback floor`);
    const counters =
      typeof value.counters === "object" && value.counters !== null ? Object.entries(value.counters) : [];
    return {
      floors: Object.fromEntries(
        Object.entries(value.floors).filter((e): e is [string, string] => typeof e[1] === "string"),
      ),
      counters: Object.fromEntries(
        counters.filter((e): e is [string, number] => Number.isSafeInteger(e[1]) && (e[1] as number) >= 0),
      ),
    };
  };
  return {
    where: `TPM NV index ${index}`,
    read,
    raise(wanted, newer) {
      if (!writable) return;
      const held = read();
      const floors = { ...held.floors };
      for (const [component, version] of Object.entries(wanted.floors))
        floors[component] =
          held.floors[component] === undefined ? version : newer(held.floors[component], version);
      const counters = { ...held.counters };
      for (const [component, n] of Object.entries(wanted.counters))
        counters[component] = Math.max(held.counters[component] ?? n, n);
      if (
        Object.entries(floors).every(([c, v]) => held.floors[c] === v) &&
        Object.entries(counters).every(([c, n]) => held.counters[c] === n)
      )
        return;
      const json = Buffer.from(
        JSON.stringify({ v: 1, floors, ...(Object.keys(counters).length > 0 ? { counters } : {}) }),
        "utf8",
      );
      if (json.length >= SIZE)
        throw new TpmError(
          `the anti-rollback floors take ${json.length} bytes: more than the ${SIZE}-byte NV index holds`,
        );
      if (!defined())
        tpm2(tpm, "tpm2_nvdefine", ["-C", "o", "-s", String(SIZE), "-a", "ownerread|ownerwrite", index]);
      tpm2(
        tpm,
        "tpm2_nvwrite",
        ["-C", "o", "-i", "-", index],
        Buffer.concat([json, Buffer.alloc(SIZE - json.length)]),
      );
    },
  };
}

/**
 * The agent's floor anchor: the TPM when the store's KEK is sealed there (`tpm-kek.ts`), none
 * otherwise (a device without a TPM has nothing its storage cannot roll back; docs/updates.md).
 * `writable: false` for the command line, so only the running agent ever writes the index.
 */
export function agentFloorAnchor(
  dir: string,
  options: { tpm?: TpmOptions | null; writable?: boolean } = {},
): FloorAnchor | undefined {
  const tpm = options.tpm === undefined ? detectTpm() : (options.tpm ?? undefined);
  if (!tpm || !hasTpmKek(dir)) return undefined;
  const index = process.env.BULWARK_AGENT_TPM_FLOOR_INDEX ?? DEFAULT_FLOOR_INDEX;
  if (!/^0x01[0-3][0-9a-f]{5}$/i.test(index))
    throw new TpmError(
      `BULWARK_AGENT_TPM_FLOOR_INDEX must be an owner NV index 0x01000000-0x013fffff, not ${index}`,
    );
  return tpmFloorAnchor(tpm, index, options.writable ?? true);
}
