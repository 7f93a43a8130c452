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
  /**
   * A device published on `jobs/{jobId}/status`: its JSON, parsed once by the broker for every
   * hook in the chain (a job report, a user notice's acknowledgement, a transfer step, a wipe
   * confirmation). A payload that is not JSON reaches no hook.
   */
  jobStatus(deviceId: string, jobId: string, report: unknown): Promise<void>;
}
