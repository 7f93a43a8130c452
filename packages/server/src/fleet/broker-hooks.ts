import type { DeviceSubscribeKind } from "@bulwark/sdk/wire/topics";
import type { DeviceStatus } from "./devices.ts";

/**
 * What fleet hears from the broker: a port fleet owns and mqtt/ calls, so that fleet needs nothing
 * of the broker (fleet-service.ts implements it; mqtt/broker.ts takes it as `hooks`).
 */
export interface BrokerHooks {
  /** A device subscribed to one of its server → device topics (push its config, a pending wipe). */
  subscribed(deviceId: string, kind: DeviceSubscribeKind, status: DeviceStatus): Promise<void>;
  /** A device published on its `meta` topic. */
  metadata(deviceId: string, payload: Buffer): Promise<void>;
  /** A device published on its `events` topic. */
  report(deviceId: string, payload: Buffer): Promise<void>;
  /** A device published on `jobs/{jobId}/status`. */
  jobStatus(deviceId: string, jobId: string, payload: Buffer): Promise<void>;
}
