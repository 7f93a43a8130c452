import { mkdirSync, writeFileSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import { join } from "node:path";
import type { Server as TlsServer } from "node:tls";
import cookie from "@fastify/cookie";
import Fastify, { type FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { operatorCertificateRoutes } from "./access/operator-certificate-routes.ts";
import { ensureOperatorCa } from "./access/operator-certificates.ts";
import { accessPlugin } from "./access/plugin.ts";
import { SecretBox } from "./access/secret-box.ts";
import { appendAudit } from "./audit/audit-log.ts";
import { ensureCheckpointKey } from "./audit/checkpoints.ts";
import { auditPlugin } from "./audit/plugin.ts";
import { startAuditMaintenance } from "./audit/routes.ts";
import { bootstrapIfEmpty, type FirstRun } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import { type ControlBus, LocalControlBus } from "./control/bus.ts";
import { clusterChannel } from "./control/cluster-channel.ts";
import { RedisControlBus } from "./control/redis-bus.ts";
import { controlRoutes } from "./control/routes.ts";
import { productRoutes } from "./cra/products.ts";
import { configSigner } from "./fleet/config-signer.ts";
import { lateBoundChannel } from "./fleet/device-channel.ts";
import { markAllOffline } from "./fleet/devices.ts";
import { fleetService } from "./fleet/fleet-service.ts";
import { fleetPlugin } from "./fleet/plugin.ts";
import { accessControl, actorOf, type RouteRule, requireRouteAuth } from "./http/auth.ts";
import { logListenerErrors } from "./http/listener-errors.ts";
import { requestLogSerializer } from "./http/log-redaction.ts";
import { problemDetails } from "./http/problems.ts";
import { rateLimits } from "./http/rate-limits.ts";
import { type EmbeddedBroker, startBroker } from "./mqtt/broker.ts";
import { redisBrokerBackends } from "./mqtt/redis-backends.ts";
import { admissionFor } from "./net/admission.ts";
import { type ConnectionBudget, type GuardedListener, guardListener } from "./net/connection-guard.ts";
import { firstRequestDeadline } from "./net/first-request.ts";
import { byRole, type CertificateAuthority, ensurePostQuantumHierarchy, listCas } from "./pki/ca.ts";
import { refreshCrls } from "./pki/crl-publisher.ts";
import { estRoutes } from "./pki/est-routes.ts";
import { FileKeyCustody } from "./pki/file-key-custody.ts";
import { GroupCommit } from "./pki/group-commit.ts";
import { loadMasterKey, type MasterKey } from "./pki/master-key.ts";
import { ensureOcspResponders, type Responder } from "./pki/ocsp-responder.ts";
import { pkiPlugin } from "./pki/plugin.ts";
import { policyRoutes as provisioningPolicyRoutes } from "./pki/policy-routes.ts";
import { pkiUrls } from "./pki/profiles.ts";
import { revocationService } from "./pki/revocation.ts";
import { ensureServerIdentity } from "./pki/server-certificate.ts";
import { tokenRoutes } from "./pki/token-routes.ts";
import { SoftwareMonitor } from "./software/monitor.ts";
import { softwarePlugin } from "./software/routes.ts";
import { WebhookDispatcher } from "./software/webhooks/dispatcher.ts";
import { warnPlainHttpWebhooks } from "./software/webhooks/plain-http-check.ts";
import { migrate } from "./store/migrate.ts";
import { migrations } from "./store/migrations.ts";
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

/** The one composition root: builds every port and domain from the configuration and starts both listeners. */
export async function startServer(
  config: Config,
  log: Logger = pino({ level: config.logLevel }),
): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store: Store = await openStore(config);
  // Several processes may start at once over one PostgreSQL and one shared data dir: exactly one
  // generates the master key, migrates, bootstraps and creates the standing keys; the others wait
  // for it and then find everything done.
  const startup = await store.exclusive("bulwark:startup", async () => {
    const masterKey = loadMasterKey(config.dataDir, config.masterKey);
    await migrate(store, migrations);
    const custody = new FileKeyCustody({
      dir: join(config.dataDir, "keys"),
      masterKey: masterKey.key,
      onUse: (use) =>
        log.debug({ keyId: use.keyId, label: use.label, operation: use.operation }, "custody key used"),
    });
    const firstRun = await bootstrapIfEmpty(store, custody, { adminKeyFile: config.bootstrapAdminKeyFile });
    await store.transaction(async (tx) => {
      if (await ensurePostQuantumHierarchy(tx, custody))
        await appendAudit(tx, {
          actor: { type: "system" },
          action: "ca.create",
          outcome: "success",
          details: { cas: ["ml-dsa-65 root", "ml-dsa-65 device issuing"] },
        });
    });
    const cas = await listCas(store);
    const identity = await ensureServerIdentity(store, custody, byRole(cas, "service"), config.publicNames);
    const operatorCa = await ensureOperatorCa(store, custody);
    const checkpointSigner = await ensureCheckpointKey(store, custody);
    const signer = await configSigner(store, custody, byRole(cas, "service"));
    return { masterKey, custody, firstRun, cas, identity, operatorCa, checkpointSigner, signer };
  });
  const { masterKey, custody, firstRun, identity, operatorCa, checkpointSigner } = startup;
  let cas: CertificateAuthority[] = startup.cas;
  let responders: Responder[] = [];
  // Re-reads the CAs; re-signs missing or ageing CRLs (RFC 5280 §5.1.2.5) and keeps an OCSP responder per issuing CA.
  const reloadPki = async () => {
    cas = await listCas(store);
    await refreshCrls(store, custody, cas);
    responders = await ensureOcspResponders(store, custody, cas);
  };
  await reloadPki();
  const pkiSchedule = setInterval(
    () => void reloadPki().catch((err) => log.error({ err }, "CRL/OCSP refresh failed")),
    10 * 60 * 1000,
  );
  pkiSchedule.unref();
  const root = byRole(cas, "root");
  // TLS trusts every root (ECDSA and ML-DSA-65 chains); a root imported later is trusted from the next start.
  const rootPems = cas.filter((c) => c.role === "root").map((c) => c.pem);
  const rootPemPath = join(config.dataDir, "root-ca.pem");
  writeFileSync(rootPemPath, root.pem);
  // One process alone knows no device is connected yet; in scale-out the others hold live sessions.
  const scaledOut = config.redisUrl !== undefined;
  if (!scaledOut) await markAllOffline(store);
  const onControlError = (error: unknown) => log.warn({ err: error }, "control bus");
  const redisControl = config.redisUrl
    ? await RedisControlBus.connect(config.redisUrl, config.redisPrefix, onControlError, log)
    : undefined;
  const control: ControlBus = redisControl ?? new LocalControlBus(onControlError);
  const backends = config.redisUrl
    ? redisBrokerBackends(config.redisUrl, config.redisPrefix, log.child({ component: "mqtt" }))
    : undefined;
  const box = new SecretBox(masterKey.key);
  const admission = admissionFor(config.connections, log.child({ component: "net" }));

  // The fleet domain is built first: the broker calls its hooks, it reaches devices through the broker.
  const deviceChannel = lateBoundChannel();
  // Every certificate revocation goes through this one service (issue #14 (2)): it re-signs the
  // CRL in the revocation's transaction, and a revoked certificate's live MQTT sessions are closed
  // on every process (issue #4; a superseded one's after the renewal grace).
  const revocation = revocationService({
    store,
    custody,
    cas: () => cas,
    onRevoked: ({ serial, deviceId }) => deviceChannel.channel.disconnectCertificate(deviceId, serial),
    supersededGraceMs: config.renewalGraceMs,
  });
  const fleet = fleetService({
    store,
    signer: startup.signer,
    channel: deviceChannel.channel,
    revocation,
    log: log.child({ component: "fleet" }),
  });
  const broker = await startBroker({
    store,
    log: log.child({ component: "mqtt" }),
    hooks: fleet.brokerHooks,
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: { keyPem: identity.keyPem, certChainPem: identity.certChainPem, trustedCaPems: rootPems },
    deviceCas: () => cas.filter((ca) => ca.role === "device"),
    backends,
    instance: { heartbeatMs: config.heartbeatMs },
    limits: { connectTimeoutMs: config.connections.mqttConnectTimeoutMs },
    admission: admission.mqtt,
  }).catch(async (error: unknown) => {
    clearInterval(pkiSchedule);
    await Promise.allSettled([control.close(), backends?.close()]);
    await store.close().catch(() => {});
    throw listenFailed("MQTT/TLS", config.mqtt, error);
  });
  // Status changes and kicks reach the device's session on whichever process holds it.
  deviceChannel.bind(clusterChannel(broker, control, log.child({ component: "control" })));
  // Disables and revocations committed elsewhere while Redis was away never reached this process.
  redisControl?.onRejoined(() =>
    broker.recheckSessions().then(
      (outcome) => log.info(outcome, "live sessions re-checked against the registry"),
      (err) => log.error({ err }, "live sessions not re-checked against the registry"),
    ),
  );
  const mqttUrl =
    config.mqtt.port === 0 ? config.publicMqttUrl.replace(/:0$/, `:${broker.port}`) : config.publicMqttUrl;

  // Typed as a plain FastifyInstance so domain plugins need not know the server is HTTPS.
  const http = Fastify({
    loggerInstance: log.child({ component: "http" }, { serializers: { req: requestLogSerializer } }),
    https: {
      key: identity.keyPem,
      cert: identity.certChainPem,
      ca: rootPems,
      // Client certificates are asked for but optional: EST re-enrolment and operator sign-in use them.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    },
    bodyLimit: 1024 * 1024,
    // Unknown fields are refused (400), not silently dropped: every input is validated at the edge.
    ajv: { customOptions: { removeAdditional: false } },
    trustProxy: false,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // Before TLS: the caps, the handshake deadline and a balancer's PROXY header; `request.ip` is then
  // the client's own address.
  const httpsAdmission = guardListener(http.server as unknown as TlsServer, {
    ...admission.https,
    name: "https",
    log: log.child({ component: "net" }),
  });
  firstRequestDeadline(http.server as unknown as HttpsServer, config.connections.httpRequestTimeoutMs);
  const routes: RouteRule[] = [];
  requireRouteAuth(http, routes);
  await http.register(cookie);
  await rateLimits(http, store);
  accessControl(http, {
    store,
    operatorCa: () => operatorCa,
    // Key use is recorded at most hourly per key (CRA Annex I Part I (2)(l)) so reads do not flood the log.
    onKeyUse: (keyId, request) =>
      store.transaction(async (tx) => {
        await appendAudit(tx, {
          actor: actorOf(null),
          action: "api-key.use",
          target: { type: "api-key", id: keyId },
          outcome: "success",
          details: { remoteAddress: request.ip, route: request.routeOptions.url },
        });
      }),
  });
  problemDetails(http);
  http.get("/healthz", { config: { auth: { public: true } } }, async () => {
    await store.get(`SELECT 1 AS ok`);
    return { status: "ok", devicesConnected: broker.connectedDevices() };
  });
  http.get("/api/v1/endpoints", { config: { auth: { public: true } } }, async () => ({
    mqtt: mqttUrl,
    est: new URL("/.well-known/est/", config.publicUrl).href,
  }));
  let publicUrl = config.publicUrl;
  const urls = pkiUrls(() => publicUrl);
  // Concurrent enrolments share one commit (each in its own savepoint); see pki/group-commit.ts.
  const enrolments = new GroupCommit(store);
  await http.register(
    estRoutes({ store, custody, cas: () => cas, urls, transact: enrolments.transact, revocation }),
  );
  await http.register(
    pkiPlugin({
      store,
      custody,
      cas: () => cas,
      responders: () => responders,
      revocation,
      reload: reloadPki,
    }),
  );
  await http.register(provisioningPolicyRoutes({ store, cas: () => cas }));
  await http.register(tokenRoutes(store));
  await http.register(fleetPlugin({ store, fleet }));
  await http.register(accessPlugin({ store, box }));
  await http.register(
    operatorCertificateRoutes({ store, custody, operatorCa: () => operatorCa, revocation }),
  );
  await http.register(productRoutes(store));
  await http.register(controlRoutes(store, control));
  const auditDeps = { store, custody, signer: checkpointSigner };
  await http.register(auditPlugin(auditDeps));
  const stopAuditMaintenance = startAuditMaintenance({
    ...auditDeps,
    intervalMs: 10 * 60 * 1000,
    onError: (error) => log.error({ err: error }, "audit checkpoint or pruning failed"),
  });
  if (config.webhookAllowLocal || config.webhookAllowHttp)
    log.warn(
      { allowLocal: config.webhookAllowLocal, allowHttp: config.webhookAllowHttp },
      "webhooks may reach local destinations or use plain http (meant for labs and tests)",
    );
  await warnPlainHttpWebhooks(store, config.webhookAllowHttp, log);
  const webhooks = new WebhookDispatcher({
    store,
    masterKey: masterKey.key,
    log: log.child({ component: "webhooks" }),
    allowLocal: config.webhookAllowLocal,
    allowHttp: config.webhookAllowHttp,
  });
  const monitor = new SoftwareMonitor(store, () => webhooks.wake());
  // Deliveries still pending from before a restart are resumed.
  webhooks.wake();
  await http.register(
    softwarePlugin({
      store,
      monitor,
      custody,
      masterKey: masterKey.key,
      webhooks: { allowLocal: config.webhookAllowLocal, allowHttp: config.webhookAllowHttp },
    }),
  );
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      stopAuditMaintenance();
      clearInterval(pkiSchedule);
      revocation.close();
      await http.close();
      await webhooks.stop();
      await broker.close();
      await backends?.close();
      await control.close();
      if (!scaledOut) await markAllOffline(store);
      await store.close();
      cas = [];
    })();
    return stopping;
  };
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    await stop().catch(() => {});
    throw listenFailed("HTTPS", config.http, error);
  }
  logListenerErrors(http.server, log, "https");
  const address = http.server.address();
  const httpPort = typeof address === "object" && address ? address.port : config.http.port;
  const httpUrl = config.http.port === 0 ? config.publicUrl.replace(/:0$/, `:${httpPort}`) : config.publicUrl;
  publicUrl = httpUrl;

  return {
    httpUrl,
    httpPort,
    mqttPort: broker.port,
    mqttUrl,
    rootFingerprint: root.fingerprint,
    rootPemPath,
    firstRun,
    masterKey: { source: masterKey.source, path: masterKey.path },
    store,
    broker,
    control,
    http,
    admission: { budget: admission.budget, mqtt: broker.admission, https: httpsAdmission },
    routes,
    log,
    software: { monitor, webhooks },
    stop,
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
