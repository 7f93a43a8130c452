/**
 * Device policy settings: the versioned document an operator assigns to groups and the server
 * delivers, signed, on each device's `config` topic. One validator serves the server (at the API
 * edge) and the agent (after verifying the signature).
 */
export interface PolicySettings {
  /** How often the agent re-reports its metadata, seconds. */
  telemetryIntervalSeconds: number;
  updates: {
    /** `automatic`: install when offered; `manual`: wait for the user, at most `deferralLimitDays`. */
    mode: "automatic" | "manual";
    deferralLimitDays: number;
    // CRA Annex I Part I (2)(c): automatic security updates with a clear user opt-out.
    optOutAllowed: boolean;
  };
  // CRA Annex I Part I (2)(l): recording of security-relevant events, with a user opt-out.
  securityEventLogging: boolean;
  tls: {
    minVersion: "TLSv1.3";
    /** TLS 1.3 key-exchange groups the agent offers, in preference order. */
    groups: TlsGroup[];
  };
}

export const TLS_GROUPS = ["X25519MLKEM768", "X25519", "P-256", "P-384"] as const;
export type TlsGroup = (typeof TLS_GROUPS)[number];

export const DEFAULT_POLICY_SETTINGS: PolicySettings = {
  telemetryIntervalSeconds: 3600,
  updates: { mode: "automatic", deferralLimitDays: 7, optOutAllowed: true },
  securityEventLogging: true,
  tls: { minVersion: "TLSv1.3", groups: ["X25519MLKEM768", "X25519"] },
};

/** JSON schema of the settings, for the HTTP edge (Fastify validates bodies against it). */
export const POLICY_SETTINGS_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["telemetryIntervalSeconds", "updates", "securityEventLogging", "tls"],
  properties: {
    telemetryIntervalSeconds: { type: "integer", minimum: 60, maximum: 86400 },
    updates: {
      type: "object",
      additionalProperties: false,
      required: ["mode", "deferralLimitDays", "optOutAllowed"],
      properties: {
        mode: { type: "string", enum: ["automatic", "manual"] },
        deferralLimitDays: { type: "integer", minimum: 0, maximum: 365 },
        optOutAllowed: { type: "boolean" },
      },
    },
    securityEventLogging: { type: "boolean" },
    tls: {
      type: "object",
      additionalProperties: false,
      required: ["minVersion", "groups"],
      properties: {
        minVersion: { type: "string", enum: ["TLSv1.3"] },
        groups: {
          type: "array",
          minItems: 1,
          maxItems: TLS_GROUPS.length,
          uniqueItems: true,
          items: { type: "string", enum: [...TLS_GROUPS] },
        },
      },
    },
  },
} as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const intIn = (v: unknown, min: number, max: number) =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
const onlyKeys = (o: Record<string, unknown>, keys: string[]) =>
  Object.keys(o).every((k) => keys.includes(k));

/** The same rules as the schema, for a device that receives settings over MQTT. */
export function isPolicySettings(v: unknown): v is PolicySettings {
  if (!isObject(v) || !onlyKeys(v, ["telemetryIntervalSeconds", "updates", "securityEventLogging", "tls"]))
    return false;
  const { updates, tls } = v;
  return (
    intIn(v.telemetryIntervalSeconds, 60, 86400) &&
    typeof v.securityEventLogging === "boolean" &&
    isObject(updates) &&
    onlyKeys(updates, ["mode", "deferralLimitDays", "optOutAllowed"]) &&
    (updates.mode === "automatic" || updates.mode === "manual") &&
    intIn(updates.deferralLimitDays, 0, 365) &&
    typeof updates.optOutAllowed === "boolean" &&
    isObject(tls) &&
    onlyKeys(tls, ["minVersion", "groups"]) &&
    tls.minVersion === "TLSv1.3" &&
    Array.isArray(tls.groups) &&
    tls.groups.length > 0 &&
    new Set(tls.groups).size === tls.groups.length &&
    tls.groups.every((g) => (TLS_GROUPS as readonly unknown[]).includes(g))
  );
}

/** The signed payload on `config`: one device's policy at one version. */
export interface ConfigMessage {
  type: "config";
  deviceId: string;
  policy: { name: string; version: number; settings: PolicySettings };
  /** Epoch ms; a device never applies a configuration older than the one it holds (anti-rollback). */
  issuedAt: number;
}

export function isConfigMessage(v: unknown): v is ConfigMessage {
  if (!isObject(v) || v.type !== "config" || typeof v.deviceId !== "string" || !intIn(v.issuedAt, 0, 2 ** 53))
    return false;
  const p = v.policy;
  return (
    isObject(p) && typeof p.name === "string" && intIn(p.version, 1, 2 ** 31) && isPolicySettings(p.settings)
  );
}
