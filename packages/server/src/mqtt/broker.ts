import { createServer, type Server, type TLSSocket } from "node:tls";
import { sanitiseMetadata } from "@bulwark/sdk/wire/metadata";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import { Aedes, type AedesPublishPacket, type Client } from "aedes";
import type { Logger } from "pino";
import { deviceById, recordMetadata, setPresence } from "../fleet/devices.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import { certificateStatus } from "../pki/issue.ts";
import type { Store } from "../store/store.ts";
import { checkPublish, checkSubscribe, mayReceive } from "./acl.ts";
import { type DeviceIdentity, identityOf } from "./identity.ts";

export interface BrokerOptions {
  store: Store;
  log: Logger;
  host: string;
  port: number;
  tls: { keyPem: string; certChainPem: string; trustedCaPems: string[] };
  deviceCas: () => CertificateAuthority[];
  /** Largest keepalive a device may ask for, seconds (MQTT-3.1.2-24: the server enforces 1.5×). */
  keepaliveLimit?: number;
  /** Scale-out: Aedes' pub/sub (`mq`) and session store (`persistence`) shared between processes. */
  backends?: { mq: unknown; persistence: unknown };
}

export interface EmbeddedBroker {
  port: number;
  connectedDevices(): number;
  /** Closes every live session of a device (used by disable / compromise). */
  disconnect(deviceId: string): number;
  publishToDevice(deviceId: string, kind: "config" | "cmd" | "jobsNotify", payload: unknown): Promise<void>;
  close(): Promise<void>;
}

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const IDENTIFIER_REJECTED = 2;
const NOT_AUTHORIZED = 5;
const MAX_META_BYTES = 16 * 1024;

class ConnectRefused extends Error {
  readonly returnCode: number;
  constructor(message: string, returnCode: number) {
    super(message);
    this.returnCode = returnCode;
  }
}

/**
 * The embedded MQTT broker: Aedes on a TLS 1.3-only server that requires a client certificate.
 * Identity comes from the certificate alone; every CONNECT runs the steps in `connectSteps`.
 */
export async function startBroker(options: BrokerOptions): Promise<EmbeddedBroker> {
  const { store, log } = options;
  const identities = new WeakMap<Client, DeviceIdentity>();
  const sessions = new Map<string, Set<Client>>();

  // The CONNECT checks, in order (cf. Aedes' own connectActions).
  const connectSteps: ((client: Client, identity: DeviceIdentity) => Promise<void>)[] = [
    async function clientIdIsDeviceId(client, identity) {
      if (client.id !== identity.deviceId)
        throw new ConnectRefused("client id must be the device id", IDENTIFIER_REJECTED);
    },
    async function certificateIsValid(_client, identity) {
      const cert = await certificateStatus(store, identity.serial);
      if (
        cert?.status !== "valid" ||
        cert.device_id !== identity.deviceId ||
        Number(cert.not_after) <= Date.now()
      )
        throw new ConnectRefused("certificate is not valid", NOT_AUTHORIZED);
    },
    async function deviceIsActive(_client, identity) {
      const device = await deviceById(store, identity.deviceId);
      if (device?.status !== "active")
        throw new ConnectRefused(`device is ${device?.status ?? "unknown"}`, NOT_AUTHORIZED);
    },
  ];

  const broker = await Aedes.createBroker({
    ...options.backends,
    keepaliveLimit: options.keepaliveLimit ?? 1200,
    authenticate(client, _username, _password, done) {
      // The username and password are ignored: identity is the certificate (CRA Annex I Part I (2)(d)).
      const identity = identityOf(client.conn as TLSSocket, options.deviceCas);
      if (typeof identity === "string") {
        log.warn({ reason: identity }, "mqtt connect refused");
        done(Object.assign(new Error(identity), { returnCode: NOT_AUTHORIZED }), false);
        return;
      }
      (async () => {
        for (const step of connectSteps) await step(client, identity);
      })().then(
        () => {
          identities.set(client, identity);
          done(null, true);
        },
        (error: Error & { returnCode?: number }) => {
          log.warn({ deviceId: identity.deviceId, reason: error.message }, "mqtt connect refused");
          done(Object.assign(error, { returnCode: error.returnCode ?? NOT_AUTHORIZED }), false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      const identity = client && identities.get(client);
      if (!identity) return done(new Error("not authenticated"));
      const refusal = checkPublish(identity.deviceId, packet);
      if (refusal) {
        log.warn(
          { deviceId: identity.deviceId, topic: packet.topic.slice(0, 200), refusal },
          "mqtt publish refused",
        );
        return done(new Error(refusal));
      }
      done(null);
    },
    authorizeSubscribe(client, subscription, done) {
      const identity = identities.get(client);
      const refusal = identity
        ? checkSubscribe(identity.deviceId, subscription.topic)
        : "wildcard-or-foreign-filter";
      if (refusal) {
        log.warn(
          { deviceId: identity?.deviceId, filter: subscription.topic.slice(0, 200), refusal },
          "mqtt subscribe refused",
        );
        // MQTT 3.1.1 §3.9.3: a refused filter gets return code 0x80 in SUBACK; the session stays up.
        return done(null, null);
      }
      done(null, subscription);
    },
    authorizeForward(client, packet) {
      const identity = identities.get(client);
      return identity && mayReceive(identity.deviceId, packet.topic) ? packet : null;
    },
    published(packet: AedesPublishPacket, client: Client, done) {
      const identity = client && identities.get(client);
      if (!identity || packet.topic !== deviceTopics(identity.deviceId).meta) return done(null);
      handleMetadata(identity, packet.payload as Buffer).then(
        () => done(null),
        (error) => {
          log.error({ err: error, deviceId: identity.deviceId }, "metadata not stored");
          done(null);
        },
      );
    },
  });

  async function handleMetadata(identity: DeviceIdentity, payload: Buffer): Promise<void> {
    if (payload.length > MAX_META_BYTES) {
      log.warn({ deviceId: identity.deviceId, bytes: payload.length }, "metadata too large, dropped");
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString("utf8"));
    } catch {
      log.warn({ deviceId: identity.deviceId }, "metadata is not JSON, dropped");
      return;
    }
    // CRA Annex I Part I (2)(g): keep only allow-listed fields, count what was dropped.
    const { metadata, dropped } = sanitiseMetadata(parsed);
    if (dropped.length) log.info({ deviceId: identity.deviceId, dropped }, "metadata fields dropped");
    await recordMetadata(store, identity.deviceId, metadata, dropped.length);
  }

  broker.on("clientReady", (client) => {
    const identity = identities.get(client);
    if (!identity) return;
    const set = sessions.get(identity.deviceId) ?? new Set<Client>();
    sessions.set(identity.deviceId, set);
    set.add(client);
    void setPresence(store, identity.deviceId, true).catch((err) =>
      log.error({ err }, "presence not stored"),
    );
    log.info({ deviceId: identity.deviceId }, "device connected");
  });

  broker.on("clientDisconnect", (client) => {
    const identity = identities.get(client);
    if (!identity) return;
    const set = sessions.get(identity.deviceId);
    set?.delete(client);
    if (set && set.size === 0) {
      sessions.delete(identity.deviceId);
      void setPresence(store, identity.deviceId, false).catch((err) =>
        log.error({ err }, "presence not stored"),
      );
    }
    log.info({ deviceId: identity.deviceId }, "device disconnected");
  });

  broker.on("clientError", (client, error) => {
    log.debug({ deviceId: identities.get(client)?.deviceId, reason: error.message }, "mqtt client error");
  });

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
    },
    (socket) => broker.handle(socket),
  );
  server.on("tlsClientError", (error) => log.debug({ reason: error.message }, "mqtt tls handshake failed"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  return {
    port,
    connectedDevices: () => sessions.size,
    disconnect(deviceId) {
      const set = sessions.get(deviceId);
      if (!set) return 0;
      for (const client of set) client.close();
      return set.size;
    },
    publishToDevice(deviceId, kind, payload) {
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
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}
