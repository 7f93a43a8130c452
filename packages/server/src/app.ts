import type { FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import type { RouteRule } from "./access/route-auth.ts";
import { startAuditMaintenance } from "./audit/routes.ts";
import type { FirstRun } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import type { ControlBus } from "./control/bus.ts";
import type { MasterKey } from "./custody/master-key.ts";
import { prepareDataDir } from "./data-dir.ts";
import { markAllOffline } from "./fleet/devices.ts";
import type { EmbeddedBroker } from "./mqtt/broker.ts";
import { admissionFor } from "./net/admission.ts";
import type { ConnectionBudget, GuardedListener } from "./net/connection-guard.ts";
import type { SoftwareMonitor } from "./software/monitor.ts";
import { prepareSpool } from "./software/spool.ts";
import type { WebhookDispatcher } from "./software/webhooks/dispatcher.ts";
import { type Cluster, joinCluster } from "./startup/cluster.ts";
import { type CraRuntime, startCra } from "./startup/cra.ts";
import { buildFleet, type Fleet, startMqtt } from "./startup/devices.ts";
import { listenHttps, serveHttps } from "./startup/http-server.ts";
import { type PkiRuntime, startPki } from "./startup/pki-runtime.ts";
import { type SoftwareRuntime, startSoftware } from "./startup/software.ts";
import { prepareStanding } from "./startup/standing.ts";
import { openStore } from "./store/open.ts";
import type { Store } from "./store/store.ts";

export interface RunningServer {
  httpUrl: string;
  httpPort: number;
  mqttPort: number;
  mqttUrl: string;
  rootFingerprint: string;
  rootPemPath: string;
  firstRun: FirstRun | undefined;
  masterKey: Pick<MasterKey, "source" | "path">;
  store: Store;
  broker: EmbeddedBroker;
  control: ControlBus;
  http: FastifyInstance;
  /** Admission on both listeners (issue #13): the shared connection budget and each listener's guard. */
  admission: { budget: ConnectionBudget; mqtt: GuardedListener; https: GuardedListener };
  /** Every registered route with its access rule (the access-matrix test walks it). */
  routes: RouteRule[];
  log: Logger;
  software: { monitor: SoftwareMonitor; webhooks: WebhookDispatcher };
  stop(): Promise<void>;
}

/**
 * The one composition root: builds every port and domain from the configuration and starts both
 * listeners, as a list of steps (each in `startup/`): open the store → migrate, custody and the
 * standing keys → PKI → cluster → fleet → MQTT broker → HTTPS with every domain's plugin → listen.
 */
export async function startServer(
  config: Config,
  log: Logger = pino({ level: config.logLevel }),
): Promise<RunningServer> {
  const spoolDir = prepareDirectories(config, log);
  const store: Store = await openStore(config);
  const standing = await prepareStanding(store, config, log);
  const pki = await startPki(store, standing, config.dataDir, log);
  const cluster = await joinCluster(config, store, log);
  const admission = admissionFor(config.connections, log.child({ component: "net" }));
  const fleet = buildFleet({ store, standing, pki, config, log });
  const mqtt = { store, standing, pki, cluster, fleet, admission: admission.mqtt, config, log };
  const { broker, mqttUrl } = await startMqtt(mqtt).catch(async (error: unknown) => {
    pki.stopSchedule();
    await Promise.allSettled([cluster.control.close(), cluster.backends?.close()]);
    await store.close().catch(() => {});
    throw listenFailed("MQTT/TLS", config.mqtt, error);
  });
  const software = await startSoftware(store, standing.masterKey.key, spoolDir, config, log);
  let publicUrl = config.publicUrl;
  const cra = startCra(store, standing.custody, software, log.child({ component: "cra" }));
  const domains = { store, standing, pki, fleet, cluster, broker, mqttUrl, software, cra, config, log };
  const web = await serveHttps({ ...domains, admission: admission.https, publicUrl: () => publicUrl });
  const stopAuditMaintenance = startAuditMaintenance({
    store,
    custody: standing.custody,
    signer: standing.checkpointSigner,
    intervalMs: 10 * 60 * 1000,
    onError: (error) => log.error({ err: error }, "audit checkpoint or pruning failed"),
  });
  const stop = stopper({
    store,
    pki,
    cluster,
    fleet,
    broker,
    http: web.http,
    software,
    cra,
    stopAuditMaintenance,
  });
  const { httpPort, httpUrl } = await listenHttps(web.http, config, log).catch(async (error: unknown) => {
    await stop().catch(() => {});
    throw listenFailed("HTTPS", config.http, error);
  });
  publicUrl = httpUrl;
  return {
    httpUrl,
    httpPort,
    mqttPort: broker.port,
    mqttUrl,
    rootFingerprint: pki.root.fingerprint,
    rootPemPath: pki.rootPemPath,
    firstRun: standing.firstRun,
    masterKey: { source: standing.masterKey.source, path: standing.masterKey.path },
    store,
    broker,
    control: cluster.control,
    http: web.http,
    admission: { budget: admission.budget, mqtt: broker.admission, https: web.admission },
    routes: web.routes,
    log,
    software: { monitor: software.monitor, webhooks: software.webhooks },
    stop,
  };
}

/** The data directory (owner-only unless allowed open) and this process's upload spool in it. */
function prepareDirectories(config: Config, log: Logger): string {
  const dataDir = prepareDataDir(config.dataDir, config.allowOpenDataDir);
  if (dataDir.openMode !== undefined)
    log.warn(
      { dataDir: config.dataDir, mode: dataDir.openMode.toString(8) },
      "the data directory is open to other users (--allow-open-data-dir)",
    );
  return prepareSpool(config.dataDir);
}

/** Stops everything once, in order: timers, HTTPS, webhooks, the document parser, the broker, the cluster, the store. */
function stopper(parts: {
  store: Store;
  pki: PkiRuntime;
  cluster: Cluster;
  fleet: Fleet;
  broker: EmbeddedBroker;
  http: FastifyInstance;
  software: SoftwareRuntime;
  cra: CraRuntime;
  stopAuditMaintenance: () => void;
}): () => Promise<void> {
  const { store, pki, cluster } = parts;
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      parts.stopAuditMaintenance();
      pki.stopSchedule();
      parts.fleet.revocation.close();
      parts.fleet.transferDeadlines.stop();
      await parts.http.close();
      await parts.software.webhooks.stop();
      await parts.cra.article14.stop();
      await parts.software.parser.close();
      await parts.broker.close();
      await cluster.backends?.close();
      await cluster.control.close();
      if (!cluster.scaledOut) await markAllOffline(store);
      await store.close();
      pki.forget();
    })();
    return stopping;
  };
}

/**
 * A listener that cannot bind (port in use, no permission) leaves a server that cannot serve:
 * start-up fails with the listener, its address and the system's reason (`EADDRINUSE`).
 */
function listenFailed(listener: string, at: { host: string; port: number }, error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  return new Error(`cannot listen for ${listener} on ${at.host}:${at.port}: ${reason}`, { cause: error });
}
