import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { Aedes } from "aedes";
import type { Logger } from "pino";
import type { BrokerHooks } from "../fleet/broker-hooks.ts";
import type { Admission } from "../net/admission.ts";
import type { GuardedListener } from "../net/connection-guard.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import { clientReady } from "./handlers/client-ready.ts";
import { connectHandlers } from "./handlers/connect.ts";
import { logBrokerEvents } from "./handlers/diagnostics.ts";
import { authorizeForward } from "./handlers/forward.ts";
import { publishHandlers } from "./handlers/publish.ts";
import { authorizeSubscribe, subscribed } from "./handlers/subscribe.ts";
import { identityOf, type PeerTransport } from "./identity.ts";
import { DEFAULT_HEARTBEAT_MS, InstanceLiveness } from "./instance-liveness.ts";
import { type BrokerLimits, capPacketSize, DEFAULT_LIMITS, RateLimiter } from "./limits.ts";
import { dropWill, OrphanWills } from "./orphan-wills.ts";
import { PresenceWriter } from "./presence.ts";
import { RegistryChanges } from "./registry-record.ts";
import { type SessionControl, sessionControl } from "./session-control.ts";
import { SessionRegistry } from "./sessions.ts";
import { listenTls, type TlsListener } from "./tls-listener.ts";

export type { BrokerHooks } from "../fleet/broker-hooks.ts";

export interface BrokerOptions {
  store: Store;
  log: Logger;
  host: string;
  port: number;
  tls: { keyPem: string; certChainPem: string; trustedCaPems: string[] };
  deviceCas: () => CertificateAuthority[];
  /** Caps, handshake deadline and PROXY protocol on the TLS listener (`net/connection-guard.ts`). */
  admission: Admission;
  /** Defaults: `DEFAULT_LIMITS`. */
  limits?: Partial<BrokerLimits>;
  /** What fleet does with device traffic. Default: nothing. */
  hooks?: BrokerHooks;
  /** Scale-out: Aedes' pub/sub (`mq`) and session store (`persistence`) shared between processes. */
  backends?: { mq: unknown; persistence: unknown };
  /** This server process: its id (recorded as the holder of its sessions) and heartbeat interval. */
  instance?: { id?: string; heartbeatMs?: number };
}

export interface EmbeddedBroker extends SessionControl {
  port: number;
  /** The listener's admission: connections open per address, refusals. */
  admission: GuardedListener;
  connectedDevices(): number;
  /** Same as `publish`, kept for callers of the first slice. */
  publishToDevice(deviceId: string, kind: "config" | "cmd" | "jobsNotify", payload: unknown): Promise<void>;
  /**
   * Serves one MQTT connection on an already-established transport. The identity is still read
   * from the transport's verified peer certificate (`authorized`, `getPeerX509Certificate`); the TLS
   * listener uses this for every socket, tests use it to drive the broker without a handshake.
   */
  handle(stream: Duplex & PeerTransport): void;
  close(): Promise<void>;
}

/** The extension points' defaults (cf. Aedes' `defaultOptions`). */
const NO_HOOKS: BrokerHooks = {
  subscribed: async () => {},
  metadata: async () => {},
  report: async () => {},
  jobStatus: async () => {},
};

/** This process's presence writes and its heartbeat, which re-asserts its live devices. */
function processPresence(
  db: Store,
  log: Logger,
  id: string,
  heartbeatMs: number | undefined,
  sessions: SessionRegistry,
): { presence: PresenceWriter; liveness: InstanceLiveness } {
  const presence = new PresenceWriter(db, log, id);
  const liveness = new InstanceLiveness({
    id,
    store: db,
    log,
    heartbeatMs,
    liveDevices: () => sessions.deviceIds(),
    reassert: async (deviceIds) => {
      for (const deviceId of deviceIds) presence.set(deviceId, true);
      await presence.flush();
    },
  });
  return { presence, liveness };
}

/**
 * The embedded MQTT broker: Aedes on a TLS 1.3-only listener that requires a client certificate,
 * composed from one handler per concern (`handlers/`). Identity comes from the certificate alone;
 * publish, subscribe and delivery are checked against the ACL for the device's live status.
 */
export async function startBroker(options: BrokerOptions): Promise<EmbeddedBroker> {
  const { store: db, log } = options;
  const limits: BrokerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const hooks = options.hooks ?? NO_HOOKS;
  const instanceId = options.instance?.id ?? randomUUID();
  const sessions = new SessionRegistry();
  const changes = new RegistryChanges();
  const { presence, liveness } = processPresence(
    db,
    log,
    instanceId,
    options.instance?.heartbeatMs,
    sessions,
  );
  const orphanWills = new OrphanWills({
    store: db,
    log,
    holderAlive: (brokerId) => liveness.isAlive(brokerId),
    drop: (will) => dropWill(broker, will),
  });
  const identify = (client: { conn: unknown }) => identityOf(client.conn as TLSSocket, options.deviceCas);
  const publishRate = new RateLimiter(limits.publishPerSecond, limits.publishBurst);
  const subscribeDeps = { log, sessions, hooks };

  const broker = await Aedes.createBroker({
    ...options.backends,
    // A stored will names its process (server_instances), whose liveness decides if it is orphaned;
    // another process's wills go out 3-4 beats after it stopped (Aedes' default beat: 60 s).
    id: instanceId,
    heartbeatInterval: options.instance?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    // Keepalive is checked in our CONNECT steps (refused with a 3.1.1 return code, not aedes' 6).
    keepaliveLimit: 0,
    // MQTT-3.1.0-1: CONNECT is the first packet; §3.1.4 (1): without one in a reasonable time the
    // server closes the connection (--mqtt-connect-timeout-ms, counted from the TLS handshake).
    connectTimeout: limits.connectTimeoutMs,
    ...connectHandlers({ db, log, limits, sessions, changes, identify }),
    ...publishHandlers({ log, sessions, hooks, publishRate, orphanWills, instanceId }),
    authorizeSubscribe: authorizeSubscribe(subscribeDeps),
    authorizeForward: authorizeForward(sessions),
  });
  broker.on("clientReady", clientReady({ db, log, sessions, changes, presence }));
  broker.on("subscribe", subscribed(subscribeDeps));
  logBrokerEvents(broker, sessions, log);

  function handle(stream: Duplex & PeerTransport): void {
    capPacketSize(broker.handle(stream), limits.maxPacketBytes);
  }
  const connectionRate = new RateLimiter(limits.connectionsPerSecond, limits.connectionBurst);
  const { host, port, tls, admission } = options;
  const admit = (key: string) => connectionRate.take(key);
  const listener = await listenTls({ host, port, tls, admission, log, admit }, handle);
  await liveness.start();
  const control = sessionControl({ broker, store: db, sessions, changes });

  return {
    ...control,
    port: listener.port,
    admission: listener.admission,
    connectedDevices: () => sessions.deviceCount,
    publishToDevice: control.publish,
    handle,
    close: () => closeAll(listener, broker, presence, liveness),
  };
}

/** Stops listening and closes the sessions, then writes the last presence changes and stops the heartbeat. */
async function closeAll(
  listener: TlsListener,
  broker: Aedes,
  presence: PresenceWriter,
  liveness: InstanceLiveness,
): Promise<void> {
  const closed = listener.close();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await closed;
  // The transports' close events of the sessions just ended come in first.
  await new Promise((resolve) => setImmediate(resolve));
  await presence.close();
  await liveness.stop();
}
