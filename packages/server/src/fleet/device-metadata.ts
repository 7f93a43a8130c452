import { sanitiseMetadata } from "@bulwark/sdk/wire/metadata";
import type { Logger } from "pino";
import type { Store } from "../store/store.ts";
import { recordMetadata } from "./devices.ts";

const MAX_META_BYTES = 16 * 1024;

/** What a device published on its `meta` topic: stored when valid, dropped (and logged) when not. */
export async function handleDeviceMetadata(
  deps: { store: Store; log: Logger },
  deviceId: string,
  payload: Buffer,
): Promise<void> {
  const { log } = deps;
  if (payload.length > MAX_META_BYTES) {
    log.warn({ deviceId, bytes: payload.length }, "metadata too large, dropped");
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString("utf8"));
  } catch {
    log.warn({ deviceId }, "metadata is not JSON, dropped");
    return;
  }
  // CRA Annex I Part I (2)(g): keep only allow-listed fields, count what was dropped.
  const { metadata, dropped } = sanitiseMetadata(parsed);
  if (dropped.length) log.info({ deviceId, dropped }, "metadata fields dropped");
  await recordMetadata(deps.store, deviceId, metadata, dropped.length);
}
