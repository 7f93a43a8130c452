import type { AedesOptions } from "aedes";
import { mayReceive } from "../acl.ts";
import type { SessionRegistry } from "../sessions.ts";

/**
 * Aedes' `authorizeForward`, run on every delivery: a session receives only its own device's topics
 * that its current status admits (a quarantined device gets remediation only); others are dropped.
 */
export function authorizeForward(sessions: SessionRegistry): NonNullable<AedesOptions["authorizeForward"]> {
  return (client, packet) => {
    const session = sessions.get(client);
    return session && mayReceive(session.identity.deviceId, packet.topic, session.status) ? packet : null;
  };
}
