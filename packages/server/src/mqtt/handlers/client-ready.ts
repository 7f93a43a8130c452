import type { Socket } from "node:net";
import type { Client } from "aedes";
import type { Logger } from "pino";
import { mayConnect } from "../../fleet/lifecycle.ts";
import type { Queryable } from "../../store/store.ts";
import { certificateHolds, type RegistryChanges, registryRecord } from "../registry-record.ts";
import type { Session, SessionRegistry } from "../sessions.ts";

export interface ClientReadyDeps {
  db: Queryable;
  log: Logger;
  sessions: SessionRegistry;
  changes: RegistryChanges;
  /** Presence of the devices (`presence.ts`): online with the first session, offline with the last. */
  presence: { set(deviceId: string, online: boolean): void };
}

/**
 * Aedes' `clientReady`: the session is live. Marks the device online, follows the transport's
 * close, and re-reads the registry when an action may have committed since the CONNECT's read.
 */
export function clientReady(deps: ClientReadyDeps): (client: Client) => void {
  const { log, sessions } = deps;
  const closed = (client: Client) => {
    const session = sessions.get(client);
    if (!session) return;
    if (sessions.gone(client)) deps.presence.set(session.identity.deviceId, false);
    log.info({ deviceId: session.identity.deviceId }, "device disconnected");
  };
  return (client) => {
    const session = sessions.get(client);
    // A connection that closed while CONNECT was being checked never becomes a live session.
    if (!session || client.closed || client.conn.destroyed) return;
    const { deviceId } = session.identity;
    if (sessions.ready(client)) deps.presence.set(deviceId, true);
    // The transport's close, not aedes' clientDisconnect: a session taken over by a newer one with
    // the same client id ([MQTT-3.1.4-2]) is closed without that event.
    client.conn.once("close", () => closed(client));
    log.info({ deviceId, remoteAddress: (client.conn as Socket).remoteAddress }, "device connected");
    // Every action commits before its event reaches this process, and from here on the event finds
    // the session; so with no event since the CONNECT's read, the record read then still holds.
    if (session.changesBefore !== deps.changes.count) recheck(deps, session);
  };
}

/** An action committed between the CONNECT's read and now, its event finding no live session: follow the record. */
function recheck(deps: ClientReadyDeps, session: Session): void {
  const { client, identity } = session;
  // A revoked certificate (RFC 5280 §5.3.1) closes the session like a status that may not connect.
  void registryRecord(deps.db, identity.serial)
    .then((record) => {
      const status = record?.device_status;
      if (!certificateHolds(record, identity.deviceId) || !status || !mayConnect(status)) client.close();
      else if (status !== session.status) session.status = status;
    })
    .catch((err) => {
      deps.log.error(
        { err, deviceId: identity.deviceId },
        "registry re-check after CONNECT failed; session closed",
      );
      client.close();
    });
}
