import type { EncryptedStore } from "@bulwark/sdk/store";
import { type ConfigMessage, isConfigMessage, type PolicySettings } from "@bulwark/sdk/wire/policy";
import { EnvelopeError, openEnvelope } from "@bulwark/sdk/wire/signed";
import { APPLIED_CONFIG } from "./device-store.ts";

/** The configuration the agent applied last, kept in the encrypted store (purpose `state`). */
export interface AppliedConfig {
  policy: string;
  version: number;
  settings: PolicySettings;
  issuedAt: number;
}

/** Throws `StoreTamperError` (after the store reported it) if the record was changed. */
export function loadAppliedConfig(store: EncryptedStore): AppliedConfig | undefined {
  return store.getJson<AppliedConfig>("state", APPLIED_CONFIG);
}

export type ConfigVerdict =
  | { ok: true; config: AppliedConfig; changed: boolean }
  | { ok: false; reason: string; integrity: boolean };

/**
 * Checks a `config` message, in order: the signature chains to the pinned root with a
 * documentSigning certificate, the payload is a configuration for this device, and it is not
 * older than the one applied (anti-rollback). Saves it sealed when it passes.
 */
export function acceptConfig(
  raw: unknown,
  ctx: { store: EncryptedStore; deviceId: string; root: { pem: string; fingerprint: string } },
): ConfigVerdict {
  let payload: unknown;
  try {
    payload = openEnvelope(raw, ctx.root);
  } catch (error) {
    const reason = error instanceof EnvelopeError ? error.reason : "malformed";
    return { ok: false, reason: `signature: ${reason}`, integrity: true };
  }
  if (!isConfigMessage(payload)) return { ok: false, reason: "not a valid configuration", integrity: false };
  const message: ConfigMessage = payload;
  if (message.deviceId !== ctx.deviceId)
    return { ok: false, reason: "configuration for another device", integrity: true };
  const current = appliedConfigOrNone(ctx.store);
  if (current && message.issuedAt < current.issuedAt)
    return { ok: false, reason: "older than the applied configuration", integrity: true };
  const config: AppliedConfig = {
    policy: message.policy.name,
    version: message.policy.version,
    settings: message.policy.settings,
    issuedAt: message.issuedAt,
  };
  ctx.store.putJson("state", APPLIED_CONFIG, config);
  const changed =
    !current ||
    current.policy !== config.policy ||
    current.version !== config.version ||
    JSON.stringify(current.settings) !== JSON.stringify(config.settings);
  return { ok: true, config, changed };
}

/**
 * The applied configuration; a tampered record (already reported by the store) counts as none: the
 * server sends the current configuration again on connect.
 */
export function appliedConfigOrNone(store: EncryptedStore): AppliedConfig | undefined {
  try {
    return loadAppliedConfig(store);
  } catch (error) {
    if ((error as { code?: string }).code === "BW_STORE_TAMPERED") return undefined;
    throw error;
  }
}
