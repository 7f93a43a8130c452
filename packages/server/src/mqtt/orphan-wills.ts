import type { Aedes } from "aedes";
import type { Logger } from "pino";
import type { DeviceStatus } from "../fleet/devices.ts";
import type { Store } from "../store/store.ts";
import { type AclRefusal, checkPublish } from "./acl.ts";

/**
 * A will as the session store hands it back to Aedes' will sweep: the CONNECT's will message plus
 * the client id and the broker (server process) whose session stored it.
 */
export interface StoredWill {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  clientId: string;
  brokerId: string;
}

/** Why a stored will is not published. */
export type WillRefusal = AclRefusal | "malformed-will" | "unknown-device" | "holder-alive";

/**
 * True for a will that a session of another server process stored. Aedes publishes those from its
 * will sweep once their process stopped beating, with no session of ours (or with the device's
 * newer session here, if it came back to this process). A PUBLISH from a device never carries a
 * `brokerId`, and this process's own sessions' wills carry this process's id.
 */
export function isOrphanWill(packet: object, ownBrokerId: string): packet is StoredWill {
  const will = packet as Partial<StoredWill>;
  return (
    typeof will.brokerId === "string" && typeof will.clientId === "string" && will.brokerId !== ownBrokerId
  );
}

/** Deletes a stored will from the broker's session store (Aedes' types do not declare `persistence`). */
export function dropWill(broker: Aedes, will: StoredWill): Promise<unknown> {
  const { persistence } = broker as unknown as {
    persistence: { delWill(client: { id: string; brokerId: string }): Promise<unknown> };
  };
  return persistence.delWill({ id: will.clientId, brokerId: will.brokerId });
}

/**
 * Authorises the wills of sessions whose server process stopped (issue #13 item 2): by the device
 * they belong to (the client id is the device id, checked at CONNECT) and its status now, with the
 * same ACL as a PUBLISH from that device. A refused will is deleted from the session store, so it
 * is not offered again at every sweep; a will whose process is in fact alive (Aedes missed its
 * heartbeats while Redis was away) is refused and kept for that process.
 */
export class OrphanWills {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #holderAlive: (brokerId: string) => Promise<boolean>;
  readonly #drop: (will: StoredWill) => Promise<unknown>;
  /** The wills authorised here, with their device, for routing them once published. */
  readonly #authorised = new WeakMap<object, string>();

  constructor(options: {
    store: Store;
    log: Logger;
    /** Whether the server process with this id is alive (its heartbeat is recent). */
    holderAlive: (brokerId: string) => Promise<boolean>;
    /** Deletes a will from the session store. */
    drop: (will: StoredWill) => Promise<unknown>;
  }) {
    this.#store = options.store;
    this.#log = options.log;
    this.#holderAlive = options.holderAlive;
    this.#drop = options.drop;
  }

  /** Aedes' `authorizePublish` for an orphan will: `done(null)` publishes it, an error refuses it. */
  authorize(will: StoredWill, done: (error: Error | null) => void): void {
    this.#decide(will).then(done, (err) => {
      this.#log.error({ err }, "will of a stopped process's session not checked");
      done(new Error("will not checked"));
    });
  }

  async #decide(will: StoredWill): Promise<Error | null> {
    const refusal = await this.#check(will);
    if (!refusal) {
      this.#authorised.set(will, will.clientId);
      return null;
    }
    const fields = { deviceId: will.clientId.slice(0, 64), refusal };
    if (refusal === "holder-alive") this.#log.info(fields, "will of a live process's session kept");
    else {
      this.#log.warn(fields, "will of a stopped process's session refused and dropped");
      await this.#drop(will).catch((err) => this.#log.warn({ err }, "refused will not deleted"));
    }
    return new Error(`will refused: ${refusal}`);
  }

  /** The device of a will authorised here (the `published` hook has no session for it). */
  deviceOf(packet: object): string | undefined {
    return this.#authorised.get(packet);
  }

  async #check(will: StoredWill): Promise<WillRefusal | undefined> {
    // The session store is shared infrastructure, not trusted input.
    if (typeof will.topic !== "string" || typeof will.qos !== "number" || typeof will.retain !== "boolean")
      return "malformed-will";
    if (await this.#holderAlive(will.brokerId)) return "holder-alive";
    const device = await this.#store.get<{ status: DeviceStatus }>(
      `SELECT status FROM devices WHERE id = ?`,
      [will.clientId],
    );
    if (!device) return "unknown-device";
    return checkPublish(will.clientId, will, device.status);
  }
}
