/**
 * The minimal device metadata of the wire protocol. CRA Annex I Part I (2)(g) (data
 * minimisation): only these fields are kept; anything else a device sends is dropped and counted.
 */
export interface DeviceMetadata {
  model?: string;
  hardwareRevision?: string;
  osName?: string;
  osVersion?: string;
  agentVersion?: string;
  firmwareVersion?: string;
  mac?: string;
  listeningPorts?: number[];
  bootTime?: string;
  /** The agent's own integrity state: "tampered" once its encrypted store found a changed record. */
  agentIntegrity?: AgentIntegrity;
  /**
   * The agent's anti-rollback floor per update component: the highest signed counter it installed
   * (`custom.antiRollbackCounter` of a TUF target, TUF spec §4.5 custom). The server takes it as the
   * device's floor (issue #15).
   */
  antiRollbackCounters?: Record<string, number>;
  /**
   * The binary delta formats (`custom.delta.format` of a delta target, `wire/delta.ts`) this agent
   * can apply, e.g. `["zstd-dict", "zstd-seg"]` (issue #15 item 10). The server sends a deployment
   * that requires a delta only to devices whose agent can apply the release's delta formats. Absent
   * (an agent from before this field): the agent is taken to know `zstd-dict` only
   * (`UNADVERTISED_DELTA_FORMATS`); an empty list: it applies none.
   */
  deltaFormats?: string[];
}

/** A component name (a delegated TUF role's name, `release-routes.ts`). */
const COMPONENT = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_COMPONENTS = 16;

export function isCounters(value: unknown): value is Record<string, number> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return (
    entries.length <= MAX_COMPONENTS &&
    entries.every(([c, n]) => COMPONENT.test(c) && Number.isSafeInteger(n) && (n as number) >= 0)
  );
}

/** A delta format's name (`zstd-dict`, `zstd-seg`; a later agent's format is kept, unknown to the server). */
const DELTA_FORMAT_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const MAX_DELTA_FORMATS = 8;

function isDeltaFormats(value: unknown): value is string[] {
  return (
    Array.isArray(value) &&
    value.length <= MAX_DELTA_FORMATS &&
    value.every((f) => typeof f === "string" && DELTA_FORMAT_NAME.test(f)) &&
    new Set(value).size === value.length
  );
}

export const AGENT_INTEGRITY = ["ok", "tampered"] as const;
export type AgentIntegrity = (typeof AGENT_INTEGRITY)[number];

const STRING_FIELDS = [
  "model",
  "hardwareRevision",
  "osName",
  "osVersion",
  "agentVersion",
  "firmwareVersion",
  "bootTime",
] as const;

const MAX_STRING = 128;

function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i++)
    if (value.charCodeAt(i) < 0x20 || value.charCodeAt(i) === 0x7f) return true;
  return false;
}
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export interface SanitisedMetadata {
  metadata: DeviceMetadata;
  /** Names of fields that were not allow-listed or not valid, and so were dropped. */
  dropped: string[];
}

/** Keeps allow-listed, well-formed fields; reports what was dropped. */
export function sanitiseMetadata(input: unknown): SanitisedMetadata {
  const metadata: DeviceMetadata = {};
  const dropped: string[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input))
    return { metadata, dropped: ["(root)"] };
  for (const [key, value] of Object.entries(input)) {
    if ((STRING_FIELDS as readonly string[]).includes(key)) {
      if (typeof value === "string" && value.length <= MAX_STRING && !hasControlCharacters(value)) {
        metadata[key as (typeof STRING_FIELDS)[number]] = value;
        continue;
      }
    } else if (key === "mac") {
      if (typeof value === "string" && MAC.test(value.toLowerCase())) {
        metadata.mac = value.toLowerCase();
        continue;
      }
    } else if (key === "agentIntegrity") {
      if ((AGENT_INTEGRITY as readonly unknown[]).includes(value)) {
        metadata.agentIntegrity = value as AgentIntegrity;
        continue;
      }
    } else if (key === "antiRollbackCounters") {
      if (isCounters(value)) {
        metadata.antiRollbackCounters = { ...value };
        continue;
      }
    } else if (key === "deltaFormats") {
      if (isDeltaFormats(value)) {
        metadata.deltaFormats = [...value];
        continue;
      }
    } else if (key === "listeningPorts") {
      if (
        Array.isArray(value) &&
        value.length <= 64 &&
        value.every((p) => Number.isInteger(p) && p > 0 && p < 65536)
      ) {
        metadata.listeningPorts = value as number[];
        continue;
      }
    }
    dropped.push(key.slice(0, 64));
  }
  return { metadata, dropped };
}
