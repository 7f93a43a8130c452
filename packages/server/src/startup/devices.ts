import type { Logger } from "pino";
import type { Config } from "../config.ts";
import {
  type UserNoticeDelivery,
  userNoticeDelivery,
  withUserNotices,
} from "../cra/article14/notice-delivery.ts";
import { lateBoundChannel } from "../fleet/device-channel.ts";
import { type FleetService, fleetService } from "../fleet/fleet-service.ts";
import { type TransferDeps, transferDeadlines, withTransfers } from "../fleet/transfer.ts";
import { type EmbeddedBroker, startBroker } from "../mqtt/broker.ts";
import { clusterChannel } from "../mqtt/cluster-channel.ts";
import type { Admission } from "../net/admission.ts";
import { type RevocationService, revocationService } from "../pki/revocation.ts";
import type { Store } from "../store/store.ts";
import { type UpdateJobs, updateJobs, withUpdateJobs } from "../updates/jobs-service.ts";
import type { Cluster } from "./cluster.ts";
import type { PkiRuntime } from "./pki-runtime.ts";
import type { Standing } from "./standing.ts";

export interface Fleet {
  fleet: FleetService;
  revocation: RevocationService;
  /** Bound to the broker once it listens. */
  deviceChannel: ReturnType<typeof lateBoundChannel>;
  /** Secure transfer of a device's data to its replacement (CRA Annex I Part I (2)(m)). */
  transfers: TransferDeps;
  /** Fails transfers whose device did not answer in time (`expireTransfers`); stopped with the server. */
  transferDeadlines: { stop(): void };
  /** Update jobs (issue #15): the broker calls their hooks, the updates plugin runs the rollouts. */
  updates: UpdateJobs;
  /** CRA Art. 14(8) notices to the devices running an affected version (cra/article14), over `cmd`. */
  notices: UserNoticeDelivery;
}

/** The fleet domain is built first: the broker calls its hooks, it reaches devices through the broker. */
export function buildFleet(deps: {
  store: Store;
  standing: Standing;
  pki: PkiRuntime;
  config: Config;
  log: Logger;
}): Fleet {
  const { store, standing, pki, config, log } = deps;
  const deviceChannel = lateBoundChannel();
  // Every certificate revocation goes through this one service (issue #14 (2)): it re-signs the
  // CRL in the revocation's transaction, and a revoked certificate's live MQTT sessions are closed
  // on every process (issue #4; a superseded one's after the renewal grace).
  const revocation = revocationService({
    store,
    custody: standing.custody,
    cas: pki.cas,
    onRevoked: ({ serial, deviceId }) => deviceChannel.channel.disconnectCertificate(deviceId, serial),
    supersededGraceMs: config.renewalGraceMs,
  });
  const fleet = fleetService({
    store,
    signer: standing.signer,
    channel: deviceChannel.channel,
    revocation,
    log: log.child({ component: "fleet" }),
  });
  const transfers: TransferDeps = {
    store,
    signer: standing.signer,
    channel: deviceChannel.channel,
    log: log.child({ component: "transfer" }),
    deadlineMs: config.transferDeadlineMs,
  };
  // Checked four times a deadline, at most once a minute and at least every quarter second.
  const deadlines = transferDeadlines(
    transfers,
    Math.min(60_000, Math.max(250, config.transferDeadlineMs / 4)),
  );
  const updates = updateJobs({
    store,
    channel: deviceChannel.channel,
    log: log.child({ component: "rollout" }),
  });
  const notices = userNoticeDelivery({
    store,
    signer: standing.signer,
    channel: deviceChannel.channel,
    log: log.child({ component: "user-notices" }),
  });
  return { fleet, revocation, deviceChannel, transfers, transferDeadlines: deadlines, updates, notices };
}

/** Starts the embedded MQTT broker on mutual TLS 1.3 and binds the fleet's device channel to it. */
export async function startMqtt(deps: {
  store: Store;
  standing: Standing;
  pki: PkiRuntime;
  cluster: Cluster;
  fleet: Fleet;
  admission: Admission;
  config: Config;
  log: Logger;
}): Promise<{ broker: EmbeddedBroker; mqttUrl: string }> {
  const { standing, pki, cluster, config, log } = deps;
  const broker = await startBroker({
    store: deps.store,
    log: log.child({ component: "mqtt" }),
    hooks: withUserNotices(
      withUpdateJobs(withTransfers(deps.fleet.fleet.brokerHooks, deps.fleet.transfers), deps.fleet.updates),
      deps.fleet.notices,
    ),
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: {
      keyPem: standing.identity.keyPem,
      certChainPem: standing.identity.certChainPem,
      trustedCaPems: pki.rootPems,
    },
    deviceCas: () => pki.cas().filter((ca) => ca.role === "device"),
    backends: cluster.backends,
    instance: { heartbeatMs: config.heartbeatMs },
    limits: { connectTimeoutMs: config.connections.mqttConnectTimeoutMs },
    admission: deps.admission,
  });
  // Status changes and kicks reach the device's session on whichever process holds it.
  deps.fleet.deviceChannel.bind(clusterChannel(broker, cluster.control, log.child({ component: "control" })));
  // Disables and revocations committed elsewhere while Redis was away never reached this process.
  cluster.redisControl?.onRejoined(() =>
    broker.recheckSessions().then(
      (outcome) => log.info(outcome, "live sessions re-checked against the registry"),
      (err) => log.error({ err }, "live sessions not re-checked against the registry"),
    ),
  );
  const mqttUrl =
    config.mqtt.port === 0 ? config.publicMqttUrl.replace(/:0$/, `:${broker.port}`) : config.publicMqttUrl;
  return { broker, mqttUrl };
}
