import { AsyncLocalStorage } from "node:async_hooks";
import type { Writable } from "node:stream";
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
 * message's PUBACK is written and has left the connection: MQTT 3.1.1 §4.3.2, the device discards a QoS 1 message only on its
 * PUBACK (the agent ends once its confirmation is acknowledged). Any other close is immediate.
 */
export function closeSession(client: Client): void {
  const inFlight = current.getStore();
  if (inFlight?.client === client) inFlight.afterAck.push(() => closeWhenFlushed(client));
  else client.close();
}

/** How long a close waits for the PUBACK to leave before it closes all the same, ms. */
const FLUSH_WAIT_MS = 5000;

/**
 * Aedes has written the PUBACK into the connection, not necessarily onto the wire: right after the
 * TLS handshake (a device that reconnects and at once sends its wipe confirmation again) it is still
 * buffered, and Aedes' close destroys the socket with it. So the connection is ended first (what is
 * buffered goes out, then the FIN) and closed once that is done, or after `FLUSH_WAIT_MS` for a
 * device that reads nothing.
 */
function closeWhenFlushed(client: Client): void {
  const conn = client.conn as Client["conn"] & Partial<Writable>;
  if (!conn.end || !conn.writableLength || conn.destroyed) {
    client.close();
    return;
  }
  const timer = setTimeout(() => client.close(), FLUSH_WAIT_MS);
  timer.unref();
  conn.end(() => {
    clearTimeout(timer);
    client.close();
  });
}
