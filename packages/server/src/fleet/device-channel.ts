import type { DeviceStatus } from "./devices.ts";

/**
 * The fleet's port onto connected devices, implemented by the broker (and, in scale-out, by a
 * fan-out over every process): publish to a device's server → device topics, and make live
 * sessions follow a committed status change (close, restrict, lift).
 */
export interface DeviceChannel {
  publish(deviceId: string, kind: "config" | "cmd" | "jobsNotify", payload: unknown): Promise<void>;
  /** Returns how many live sessions on this process were affected. */
  applyStatus(deviceId: string, status: DeviceStatus): number;
  /** Closes every live session of the device; returns how many. */
  disconnect(deviceId: string): number;
  /** RFC 5280 §5.3.1: closes the live sessions that authenticated with a revoked certificate. */
  disconnectCertificate(deviceId: string, serial: string): number;
}

/**
 * A channel whose target is set later: the fleet domain is built before the broker (the broker
 * needs the fleet's hooks), so the composition root binds the broker once it is listening.
 */
export function lateBoundChannel(): { channel: DeviceChannel; bind(target: DeviceChannel): void } {
  let target: DeviceChannel | undefined;
  const bound = () => {
    if (!target) throw new Error("the device channel is not bound to a broker yet");
    return target;
  };
  return {
    channel: {
      publish: (deviceId, kind, payload) => bound().publish(deviceId, kind, payload),
      applyStatus: (deviceId, status) => bound().applyStatus(deviceId, status),
      disconnect: (deviceId) => bound().disconnect(deviceId),
      disconnectCertificate: (deviceId, serial) => bound().disconnectCertificate(deviceId, serial),
    },
    bind(next) {
      target = next;
    },
  };
}
