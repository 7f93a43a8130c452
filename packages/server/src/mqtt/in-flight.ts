import { AsyncLocalStorage } from "node:async_hooks";
import type { Client } from "aedes";

/** A device's PUBLISH being handled before its PUBACK, and what waits for that PUBACK. */
export interface InFlight {
  client: Client;
  afterAck: (() => void)[];
}

const current = new AsyncLocalStorage<InFlight>();

/** Runs the handling of a device's message in its context (`closeSession` reads it). */
export function handleInFlight<T>(inFlight: InFlight, handle: () => Promise<T>): Promise<T> {
  return current.run(inFlight, handle);
}

/**
 * Closes a session. Asked while one of that session's own messages is being handled (a wipe
 * confirmation deletes the device and revokes its certificate), the close waits until that
 * message's PUBACK is written: MQTT 3.1.1 §4.3.2, the device discards a QoS 1 message only on its
 * PUBACK (the agent ends once its confirmation is acknowledged). Any other close is immediate.
 */
export function closeSession(client: Client): void {
  const inFlight = current.getStore();
  if (inFlight?.client === client) inFlight.afterAck.push(() => client.close());
  else client.close();
}
