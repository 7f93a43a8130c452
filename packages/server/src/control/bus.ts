import { DEVICE_STATUSES, type DeviceStatus } from "@bulwark/sdk/wire/device-status";

/**
 * The control bus: small events that every server process must act on, whichever process
 * raised them (an operator disables a device through process A; the device's live session is on
 * process B). One process uses `LocalControlBus`; several use `RedisControlBus`.
 */
export type ControlEvent =
  | { type: "device.disconnect"; deviceId: string; origin?: string }
  | { type: "device.status"; deviceId: string; status: DeviceStatus; origin?: string }
  | { type: "certificate.revoked"; deviceId: string; serial: string; origin?: string };

export type ControlHandler = (event: ControlEvent) => void;

export interface ControlBus {
  /** Delivers the event to every subscriber in every process (this one first, synchronously). */
  publish(event: ControlEvent): Promise<void>;
  subscribe(handler: ControlHandler): () => void;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// RFC 5280 §4.1.2.2: at most 20 octets, stored as lowercase hex.
const SERIAL = /^[0-9a-f]{1,40}$/;

/** Validates an event that arrived from outside this process; anything unexpected is refused. */
export function parseControlEvent(value: unknown): ControlEvent | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const event = value as Record<string, unknown>;
  // `origin` names the process that raised the event (it applied it locally already).
  const origin =
    event.origin === undefined
      ? {}
      : typeof event.origin === "string" && event.origin.length <= 64
        ? { origin: event.origin }
        : undefined;
  if (!origin || typeof event.deviceId !== "string" || !UUID.test(event.deviceId)) return undefined;
  const extra = Object.keys(event).length - ("origin" in origin ? 1 : 0);
  switch (event.type) {
    case "device.disconnect":
      return extra === 2 ? { type: "device.disconnect", deviceId: event.deviceId, ...origin } : undefined;
    case "device.status":
      return extra === 3 && (DEVICE_STATUSES as readonly unknown[]).includes(event.status)
        ? { type: "device.status", deviceId: event.deviceId, status: event.status as DeviceStatus, ...origin }
        : undefined;
    case "certificate.revoked":
      return extra === 3 && typeof event.serial === "string" && SERIAL.test(event.serial)
        ? { type: "certificate.revoked", deviceId: event.deviceId, serial: event.serial, ...origin }
        : undefined;
    default:
      return undefined;
  }
}

/** Handler fan-out shared by both implementations; one failing handler does not stop the others. */
export class Subscribers {
  readonly #handlers = new Set<ControlHandler>();
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  add(handler: ControlHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  deliver(event: ControlEvent): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}

/** The single-process bus: publishing calls the subscribers directly. */
export class LocalControlBus implements ControlBus {
  readonly #subscribers: Subscribers;

  constructor(onError: (error: unknown) => void = () => {}) {
    this.#subscribers = new Subscribers(onError);
  }

  async publish(event: ControlEvent): Promise<void> {
    this.#subscribers.deliver(event);
  }

  subscribe(handler: ControlHandler): () => void {
    return this.#subscribers.add(handler);
  }

  async close(): Promise<void> {}
}
