import type { Client } from "aedes";
import type { DeviceStatus } from "../fleet/devices.ts";
import type { DeviceIdentity } from "./identity.ts";

/** A live, authenticated MQTT session and the device status it currently runs under. */
export interface Session {
  client: Client;
  identity: DeviceIdentity;
  status: DeviceStatus;
  /** The registry change count noted before the CONNECT's registry read (`RegistryChanges`). */
  readonly changesBefore: number;
}

/** The sessions of this process, by client and by device. */
export class SessionRegistry {
  readonly #byClient = new WeakMap<Client, Session>();
  readonly #byDevice = new Map<string, Set<Session>>();

  /** Called once CONNECT passed its checks; the session is live from `clientReady`. */
  authenticate(client: Client, identity: DeviceIdentity, status: DeviceStatus, changesBefore: number): void {
    this.#byClient.set(client, { client, identity, status, changesBefore });
  }

  get(client: Client | null | undefined): Session | undefined {
    return client ? this.#byClient.get(client) : undefined;
  }

  /** Returns true when this is the device's first live session. */
  ready(client: Client): boolean {
    const session = this.#byClient.get(client);
    if (!session) return false;
    const set = this.#byDevice.get(session.identity.deviceId) ?? new Set<Session>();
    this.#byDevice.set(session.identity.deviceId, set);
    set.add(session);
    return set.size === 1;
  }

  /** Returns true when the device has no live session left. */
  gone(client: Client): boolean {
    const session = this.#byClient.get(client);
    if (!session) return false;
    const set = this.#byDevice.get(session.identity.deviceId);
    if (!set?.delete(session)) return false;
    if (set.size > 0) return false;
    this.#byDevice.delete(session.identity.deviceId);
    return true;
  }

  of(deviceId: string): Session[] {
    return [...(this.#byDevice.get(deviceId) ?? [])];
  }

  /** Moves every live session of a device to a new status. */
  setStatus(deviceId: string, status: DeviceStatus): number {
    const sessions = this.of(deviceId);
    for (const session of sessions) session.status = status;
    return sessions.length;
  }

  /** The devices with at least one live session. */
  deviceIds(): IterableIterator<string> {
    return this.#byDevice.keys();
  }

  get deviceCount(): number {
    return this.#byDevice.size;
  }
}
