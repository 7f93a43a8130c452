import { constants, randomUUID } from "node:crypto";
import type { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { sanitiseMetadata } from "@bulwark/sdk/wire/metadata";
import {
  type DeviceSubscribeKind,
  devicePublishKind,
  deviceSubscribeKind,
  deviceTopics,
  jobIdOfStatusTopic,
} from "@bulwark/sdk/wire/topics";
import { Aedes, type AedesPublishPacket, type Client } from "aedes";
import type { Logger } from "pino";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import { type DeviceStatus, recordMetadata } from "../fleet/devices.ts";
import { mayConnect, sessionEffect } from "../fleet/lifecycle.ts";
import { logListenerErrors } from "../http/listener-errors.ts";
import type { Admission } from "../net/admission.ts";
import { type GuardedListener, guardListener } from "../net/connection-guard.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import { checkPublish, checkSubscribe, mayReceive } from "./acl.ts";
import {
  ConnectRefused,
  certificateHolds,
  connectSteps,
  NOT_AUTHORIZED,
  recordOnce,
  registryRecord,
} from "./connect-steps.ts";
import { identityOf, type PeerTransport } from "./identity.ts";
import { DEFAULT_HEARTBEAT_MS, InstanceLiveness } from "./instance-liveness.ts";
import { type BrokerLimits, capPacketSize, DEFAULT_LIMITS, RateLimiter } from "./limits.ts";
import { dropWill, isOrphanWill, OrphanWills } from "./orphan-wills.ts";
import { PresenceWriter } from "./presence.ts";
import { type RecheckOutcome, recheckSessions } from "./session-recheck.ts";
import { SessionRegistry } from "./sessions.ts";

/** What the fleet domain does with device traffic; wired by the composition root. */
export interface BrokerHooks {
  /** A device subscribed to one of its server → device topics (push its config, a pending wipe). */
  subscribed(deviceId: string, kind: DeviceSubscribeKind, status: DeviceStatus): Promise<void>;
  /** A device published on its `events` topic. */
  report(deviceId: string, payload: Buffer): Promise<void>;
  /** A device published on `jobs/{jobId}/status`. */
  jobStatus(deviceId: string, jobId: string, payload: Buffer): Promise<void>;
}

export interface BrokerOptions {
  store: Store;
  log: Logger;
  host: string;
  port: number;
  tls: { keyPem: string; certChainPem: string; trustedCaPems: string[] };
  deviceCas: () => CertificateAuthority[];
  limits?: Partial<BrokerLimits>;
  /** Caps, handshake deadline and PROXY protocol on the TLS listener (`net/connection-guard.ts`). */
  admission: Admission;
  hooks?: BrokerHooks;
  /** Scale-out: Aedes' pub/sub (`mq`) and session store (`persistence`) shared between processes. */
  backends?: { mq: unknown; persistence: unknown };
  /** This server process: its id (recorded as the holder of its sessions) and heartbeat interval. */
  instance?: { id?: string; heartbeatMs?: number };
}

export interface EmbeddedBroker extends DeviceChannel {
  port: number;
  /** The listener's admission: connections open per address, refusals. */
  admission: GuardedListener;
  connectedDevices(): number;
  /** Closes the live sessions of a device that authenticated with this certificate serial (revocation). */
  disconnectCertificate(deviceId: string, serial: string): number;
  /** Same as `publish`, kept for callers of the first slice. */
  publishToDevice(deviceId: string, kind: "config" | "cmd" | "jobsNotify", payload: unknown): Promise<void>;
  /**
   * Serves one MQTT connection on an already-established transport. The identity is still read
   * from the transport's verified peer certificate (`authorized`, `getPeerX509Certificate`); the TLS
   * listener uses this for every socket, tests use it to drive the broker without a handshake.
   */
  handle(stream: Duplex & PeerTransport): void;
  /** Makes this process's live sessions follow the registry again (after control events may have been missed). */
  recheckSessions(): Promise<RecheckOutcome>;
  close(): Promise<void>;
}

const MAX_META_BYTES = 16 * 1024;

/**
 * The embedded MQTT broker: Aedes on a TLS 1.3-only server that requires a client certificate.
 * Identity comes from the certificate alone; every CONNECT runs the steps in `connect-steps.ts`;
 * publish, subscribe and delivery are checked against the ACL for the device's live status.
 */
export async function startBroker(options: BrokerOptions): Promise<EmbeddedBroker> {
  const { store, log } = options;
  const limits: BrokerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const sessions = new SessionRegistry();
  const publishRate = new RateLimiter(limits.publishPerSecond, limits.publishBurst);
  const connectionRate = new RateLimiter(limits.connectionsPerSecond, limits.connectionBurst);
  const keepalives = new WeakMap<Client, number>();
  // Registry changes this process was told of (status changes, revocations, a device's record
  // deleted after its wipe: each comes with a disconnect or status event), counted. A CONNECT
  // notes the count before its registry read; `clientReady` reads the registry again only when the
  // count moved in between, i.e. when an action's event may have found no live session to act on.
  let registryChanges = 0;
  const changesBeforeCheck = new WeakMap<Client, number>();
  const steps = connectSteps({ limits, keepaliveOf: (client) => keepalives.get(client) });
  const instanceId = options.instance?.id ?? randomUUID();
  const presence = new PresenceWriter(store, log, instanceId);
  const liveness = new InstanceLiveness({
    id: instanceId,
    store,
    log,
    heartbeatMs: options.instance?.heartbeatMs,
    liveDevices: () => sessions.deviceIds(),
    reassert: async (deviceIds) => {
      for (const deviceId of deviceIds) presence.set(deviceId, true);
      await presence.flush();
    },
  });

  const orphanWills = new OrphanWills({
    store,
    log,
    holderAlive: (brokerId) => liveness.isAlive(brokerId),
    drop: (will) => dropWill(broker, will),
  });

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
    preConnect(client, packet, done) {
      keepalives.set(client, packet.keepalive ?? 0);
      done(null, true);
    },
    authenticate(client, _username, _password, done) {
      // The username and password are ignored: identity is the certificate (CRA Annex I Part I (2)(d)).
      const identity = identityOf(client.conn as TLSSocket, options.deviceCas);
      if (typeof identity === "string") {
        log.warn(
          { reason: identity, remoteAddress: (client.conn as TLSSocket).remoteAddress },
          "mqtt connect refused",
        );
        done(Object.assign(new Error(identity), { returnCode: NOT_AUTHORIZED }), false);
        return;
      }
      changesBeforeCheck.set(client, registryChanges);
      (async () => {
        let status: DeviceStatus = "active";
        const record = recordOnce(store, identity.serial);
        for (const step of steps) status = (await step(client, identity, record)) ?? status;
        return status;
      })().then(
        (status) => {
          sessions.authenticate(client, identity, status);
          done(null, true);
        },
        (error: Error) => {
          log.warn({ deviceId: identity.deviceId, reason: error.message }, "mqtt connect refused");
          const returnCode = error instanceof ConnectRefused ? error.returnCode : NOT_AUTHORIZED;
          done(Object.assign(error, { returnCode }), false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      // Issue #13 item 2: a will of another (stopped) process's session, from Aedes' will sweep.
      if (isOrphanWill(packet, instanceId)) return orphanWills.authorize(packet, done);
      const session = sessions.get(client);
      if (!session) return done(new Error("not authenticated"));
      const { deviceId } = session.identity;
      // A flood closes the connection: MQTT 3.1.1 has no way to tell a client to slow down.
      if (!publishRate.take(deviceId)) {
        log.warn({ deviceId }, "mqtt publish rate exceeded, closing");
        return done(new Error("rate-limited"));
      }
      const refusal = checkPublish(deviceId, packet, session.status);
      if (refusal) {
        log.warn({ deviceId, topic: packet.topic.slice(0, 200), refusal }, "mqtt publish refused");
        // [MQTT-3.3.5-2]: a refused PUBLISH closes the connection (3.1.1 has no negative PUBACK).
        return done(new Error(refusal));
      }
      done(null);
    },
    authorizeSubscribe(client, subscription, done) {
      const session = sessions.get(client);
      const refusal = session
        ? checkSubscribe(session.identity.deviceId, subscription.topic)
        : "wildcard-or-foreign-filter";
      if (refusal) {
        log.warn(
          { deviceId: session?.identity.deviceId, filter: subscription.topic.slice(0, 200), refusal },
          "mqtt subscribe refused",
        );
        // [MQTT-1.5.3-1]: ill-formed UTF-8 closes the connection.
        if (refusal === "malformed-utf8") return done(new Error(refusal));
        // MQTT 3.1.1 §3.9.3: a refused filter gets return code 0x80 in SUBACK; the session stays up.
        return done(null, null);
      }
      done(null, subscription);
    },
    authorizeForward(client, packet) {
      const session = sessions.get(client);
      return session && mayReceive(session.identity.deviceId, packet.topic, session.status) ? packet : null;
    },
    published(packet: AedesPublishPacket, client: Client, done) {
      const deviceId = sessions.get(client)?.identity.deviceId ?? orphanWills.deviceOf(packet);
      if (!deviceId) return done(null);
      route(deviceId, packet).then(
        () => done(null),
        (error) => {
          log.error({ err: error, deviceId }, "device message not handled");
          done(null);
        },
      );
    },
  });

  // Issue #13: Aedes emits 'error' when its will sweep or a session-store read fails (Redis away, a
  // refused will); unhandled, that ended the process. (Not in Aedes' types: it is an EventEmitter.)
  (broker as EventEmitter).on("error", (error: Error) =>
    log.warn({ reason: error.message }, "mqtt broker error"),
  );

  /** Sends what a device published to the handler of its topic kind. */
  async function route(deviceId: string, packet: AedesPublishPacket): Promise<void> {
    const payload = packet.payload as Buffer;
    switch (devicePublishKind(deviceId, packet.topic)) {
      case "meta":
        return handleMetadata(deviceId, payload);
      case "events":
        return options.hooks?.report(deviceId, payload);
      case "jobStatus":
        return options.hooks?.jobStatus(deviceId, jobIdOfStatusTopic(deviceId, packet.topic)!, payload);
      case undefined:
        return;
    }
  }

  async function handleMetadata(deviceId: string, payload: Buffer): Promise<void> {
    if (payload.length > MAX_META_BYTES) {
      log.warn({ deviceId, bytes: payload.length }, "metadata too large, dropped");
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString("utf8"));
    } catch {
      log.warn({ deviceId }, "metadata is not JSON, dropped");
      return;
    }
    // CRA Annex I Part I (2)(g): keep only allow-listed fields, count what was dropped.
    const { metadata, dropped } = sanitiseMetadata(parsed);
    if (dropped.length) log.info({ deviceId, dropped }, "metadata fields dropped");
    await recordMetadata(store, deviceId, metadata, dropped.length);
  }

  broker.on("clientReady", (client) => {
    const session = sessions.get(client);
    // A connection that closed while CONNECT was being checked never becomes a live session.
    if (!session || client.closed || client.conn.destroyed) return;
    const { deviceId } = session.identity;
    if (sessions.ready(client)) presence.set(deviceId, true);
    // The transport's close, not aedes' clientDisconnect: a session taken over by a newer one with
    // the same client id ([MQTT-3.1.4-2]) is closed without that event.
    client.conn.once("close", () => sessionClosed(client));
    log.info({ deviceId, remoteAddress: (client.conn as TLSSocket).remoteAddress }, "device connected");
    // An action may have committed between the CONNECT check's read and now, when its event found
    // no live session to act on: then follow the stored record. Every action commits before its
    // event reaches this process, and from here on the event finds the session; so with no event
    // since the read, the record read then still holds and is not read again.
    if (changesBeforeCheck.get(client) === registryChanges) return;
    // A revoked certificate (RFC 5280 §5.3.1) closes the session like a status that may not connect.
    void registryRecord(store, session.identity.serial)
      .then((record) => {
        const status = record?.device_status;
        if (!certificateHolds(record, deviceId) || !status || !mayConnect(status)) client.close();
        else if (status !== session.status) session.status = status;
      })
      .catch((err) => {
        log.error({ err, deviceId }, "registry re-check after CONNECT failed; session closed");
        client.close();
      });
  });

  broker.on("subscribe", (subscriptions, client) => {
    const session = sessions.get(client);
    if (!session || !options.hooks) return;
    for (const { topic } of subscriptions) {
      const kind = deviceSubscribeKind(session.identity.deviceId, topic);
      if (kind)
        void options.hooks
          .subscribed(session.identity.deviceId, kind, session.status)
          .catch((err) => log.error({ err }, "subscribe follow-up failed"));
    }
  });

  function sessionClosed(client: Client): void {
    const session = sessions.get(client);
    if (!session) return;
    if (sessions.gone(client)) presence.set(session.identity.deviceId, false);
    log.info({ deviceId: session.identity.deviceId }, "device disconnected");
  }

  broker.on("keepaliveTimeout", (client) => {
    log.info({ deviceId: sessions.get(client)?.identity.deviceId }, "mqtt keepalive expired, closed");
  });

  broker.on("clientError", (client, error) => {
    log.debug(
      { deviceId: sessions.get(client)?.identity.deviceId, reason: error.message },
      "mqtt client error",
    );
  });

  function handle(stream: Duplex & PeerTransport): void {
    const client = broker.handle(stream);
    capPacketSize(client, limits.maxPacketBytes);
  }

  // TLS 1.3 only, client certificate required (alert 116 certificate_required without one).
  const server: Server = createServer(
    {
      key: options.tls.keyPem,
      cert: options.tls.certChainPem,
      ca: options.tls.trustedCaPems,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      // No stateless session tickets (RFC 8446 §4.6.1): sealing two per handshake cost CPU and
      // ~12 KiB of resident memory per held connection (measured); devices do full handshakes.
      secureOptions: constants.SSL_OP_NO_TICKET,
    },
    (socket) => handle(socket),
  );
  // Before any TLS work: the caps, the handshake deadline, the PROXY header from a balancer, and
  // the connection rate per client address (the device's own, also behind a balancer).
  const admission = guardListener(server, {
    ...options.admission,
    name: "mqtt",
    log,
    admit: (key) => connectionRate.take(key),
  });
  server.on("tlsClientError", (error) => log.debug({ reason: error.message }, "mqtt tls handshake failed"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  logListenerErrors(server, log, "mqtt");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  await liveness.start();

  function disconnect(deviceId: string): number {
    registryChanges++;
    const live = sessions.of(deviceId);
    for (const session of live) session.client.close();
    return live.length;
  }

  // Revocation (RFC 5280 §5.3.1): only the sessions that authenticated with the revoked certificate.
  function disconnectCertificate(deviceId: string, serial: string): number {
    registryChanges++;
    const matching = sessions.of(deviceId).filter((session) => session.identity.serial === serial);
    for (const session of matching) session.client.close();
    return matching.length;
  }

  function publish(deviceId: string, kind: "config" | "cmd" | "jobsNotify", payload: unknown): Promise<void> {
    const topic = deviceTopics(deviceId)[kind];
    return new Promise((resolve, reject) =>
      broker.publish(
        {
          cmd: "publish",
          topic,
          payload: Buffer.from(JSON.stringify(payload)),
          qos: 1,
          retain: false,
          dup: false,
        },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  }

  return {
    port,
    admission,
    connectedDevices: () => sessions.deviceCount,
    disconnect,
    disconnectCertificate,
    applyStatus(deviceId, status) {
      registryChanges++;
      switch (sessionEffect(status)) {
        case "close":
          return disconnect(deviceId);
        case "none":
        case "restrict":
        case "wipe":
          return sessions.setStatus(deviceId, status);
      }
    },
    publish,
    publishToDevice: publish,
    handle,
    recheckSessions() {
      // CONNECTs being checked now read the registry again once ready, like after an event.
      registryChanges++;
      return recheckSessions(store, sessions);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
      // The transports' close events of the sessions just ended come in first.
      await new Promise((resolve) => setImmediate(resolve));
      await presence.close();
      await liveness.stop();
    },
  };
}
