import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ConfigMessage, isConfigMessage, type PolicySettings } from "@bulwark/sdk/wire/policy";
import { EnvelopeError, openEnvelope } from "@bulwark/sdk/wire/signed";
import { writeAtomic } from "./state.ts";
import { openJson, sealJson } from "./vault.ts";

/** The configuration the agent applied last, kept sealed under the data key. */
export interface AppliedConfig {
  policy: string;
  version: number;
  settings: PolicySettings;
  issuedAt: number;
}

const PURPOSE = "bulwark-agent/config";
const file = (dir: string) => join(dir, "config.sealed");

export function loadAppliedConfig(dir: string, dataKey: Buffer): AppliedConfig | undefined {
  if (!existsSync(file(dir))) return undefined;
  return openJson<AppliedConfig>(Buffer.from(readFileSync(file(dir), "utf8"), "base64"), dataKey, PURPOSE);
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
  ctx: { dir: string; deviceId: string; dataKey: Buffer; root: { pem: string; fingerprint: string } },
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
  const current = loadAppliedConfig(ctx.dir, ctx.dataKey);
  if (current && message.issuedAt < current.issuedAt)
    return { ok: false, reason: "older than the applied configuration", integrity: true };
  const config: AppliedConfig = {
    policy: message.policy.name,
    version: message.policy.version,
    settings: message.policy.settings,
    issuedAt: message.issuedAt,
  };
  writeAtomic(file(ctx.dir), sealJson(config, ctx.dataKey, PURPOSE).toString("base64"), 0o600);
  const changed =
    !current ||
    current.policy !== config.policy ||
    current.version !== config.version ||
    JSON.stringify(current.settings) !== JSON.stringify(config.settings);
  return { ok: true, config, changed };
}
