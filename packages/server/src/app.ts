import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import cookie from "@fastify/cookie";
import Fastify, { type FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { mfaRoutes } from "./access/mfa-routes.ts";
import { oidcRoutes } from "./access/oidc-routes.ts";
import { operatorCertificateRoutes } from "./access/operator-certificate-routes.ts";
import { ensureOperatorCa } from "./access/operator-certificates.ts";
import { accessRoutes } from "./access/routes.ts";
import { SecretBox } from "./access/secret-box.ts";
import { sessionRoutes } from "./access/session-routes.ts";
import { userRoutes } from "./access/user-routes.ts";
import { appendAudit } from "./audit/audit-log.ts";
import { ensureCheckpointKey } from "./audit/checkpoints.ts";
import { notificationRoutes } from "./audit/notifications.ts";
import { auditRoutes, startAuditMaintenance } from "./audit/routes.ts";
import { bootstrapIfEmpty, type FirstRun } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import { type ControlBus, LocalControlBus } from "./control/bus.ts";
import { clusterChannel } from "./control/cluster-channel.ts";
import { RedisControlBus } from "./control/redis-bus.ts";
import { controlRoutes } from "./control/routes.ts";
import { productRoutes } from "./cra/products.ts";
import { deviceActionRoutes } from "./fleet/action-routes.ts";
import { configSigner } from "./fleet/config-signer.ts";
import { lateBoundChannel } from "./fleet/device-channel.ts";
import { markAllOffline } from "./fleet/devices.ts";
import { fleetService } from "./fleet/fleet-service.ts";
import { policyRoutes } from "./fleet/policy-routes.ts";
import { fleetRoutes } from "./fleet/routes.ts";
import { securityEventRoutes } from "./fleet/security-event-routes.ts";
import { accessControl, actorOf, type RouteRule, requireRouteAuth } from "./http/auth.ts";
import { requestLogSerializer } from "./http/log-redaction.ts";
import { problemDetails } from "./http/problems.ts";
import { rateLimits } from "./http/rate-limits.ts";
import { type EmbeddedBroker, startBroker } from "./mqtt/broker.ts";
import { redisBrokerBackends } from "./mqtt/redis-backends.ts";
import { byRole, type CertificateAuthority, ensurePostQuantumHierarchy, listCas } from "./pki/ca.ts";
import { caRoutes } from "./pki/ca-routes.ts";
import { certificateRoutes } from "./pki/cert-routes.ts";
import { refreshCrls } from "./pki/crl-publisher.ts";
import { distributionRoutes } from "./pki/distribution-routes.ts";
import { estRoutes } from "./pki/est-routes.ts";
import { FileKeyCustody } from "./pki/file-key-custody.ts";
import { GroupCommit } from "./pki/group-commit.ts";
import { loadMasterKey, type MasterKey } from "./pki/master-key.ts";
import { ensureOcspResponders, type Responder } from "./pki/ocsp-responder.ts";
import { policyRoutes as provisioningPolicyRoutes } from "./pki/policy-routes.ts";
import { pkiUrls } from "./pki/profiles.ts";
import { ensureServerIdentity } from "./pki/server-certificate.ts";
import { tokenRoutes } from "./pki/token-routes.ts";
import { SoftwareMonitor } from "./software/monitor.ts";
import { registerSoftwareRoutes } from "./software/routes.ts";
import { WebhookDispatcher } from "./software/webhooks/dispatcher.ts";
import { warnPlainHttpWebhooks } from "./software/webhooks/plain-http-check.ts";
import { migrate } from "./store/migrate.ts";
import { migrations } from "./store/migrations.ts";
import { openStore } from "./store/open.ts";
import type { Store } from "./store/store.ts";
import { updateJobs, withUpdateJobs } from "./updates/jobs-service.ts";
import { updatesPlugin } from "./updates/plugin.ts";

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
  const control: ControlBus = config.redisUrl
    ? await RedisControlBus.connect(config.redisUrl, config.redisPrefix, onControlError)
    : new LocalControlBus(onControlError);
  const backends = config.redisUrl ? redisBrokerBackends(config.redisUrl, config.redisPrefix) : undefined;
  const box = new SecretBox(masterKey.key);

  // The fleet domain is built first: the broker calls its hooks, it reaches devices through the broker.
  const deviceChannel = lateBoundChannel();
  const fleet = fleetService({
    store,
    signer: startup.signer,
    channel: deviceChannel.channel,
    log: log.child({ component: "fleet" }),
  });
  const jobs = updateJobs({
    store,
    channel: deviceChannel.channel,
    log: log.child({ component: "rollout" }),
  });
  const broker = await startBroker({
    store,
    log: log.child({ component: "mqtt" }),
    hooks: withUpdateJobs(fleet.brokerHooks, jobs),
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: { keyPem: identity.keyPem, certChainPem: identity.certChainPem, trustedCaPems: rootPems },
    deviceCas: () => cas.filter((ca) => ca.role === "device"),
    backends,
    instance: { heartbeatMs: config.heartbeatMs },
  });
  // Status changes and kicks reach the device's session on whichever process holds it.
  deviceChannel.bind(clusterChannel(broker, control, log.child({ component: "control" })));
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
  await http.register(estRoutes({ store, custody, cas: () => cas, urls, transact: enrolments.transact }));
  await http.register(distributionRoutes({ store, cas: () => cas, responders: () => responders }));
  await http.register(
    certificateRoutes({
      store,
      custody,
      cas: () => cas,
      // Issue #4: a revoked certificate's live MQTT sessions are closed at once, on every process.
      onRevoked: ({ serial, deviceId }) => {
        if (deviceId) deviceChannel.channel.disconnectCertificate(deviceId, serial);
      },
    }),
  );
  await http.register(caRoutes({ store, custody, cas: () => cas, reload: reloadPki }));
  await http.register(provisioningPolicyRoutes({ store, cas: () => cas }));
  await http.register(tokenRoutes(store));
  await http.register(fleetRoutes(store, fleet.delivery));
  await http.register(deviceActionRoutes(fleet.incidents));
  await http.register(policyRoutes(store, fleet.delivery));
  await http.register(securityEventRoutes(store));
  await http.register(accessRoutes(store));
  await http.register(sessionRoutes(store, box));
  await http.register(mfaRoutes(store, box));
  await http.register(userRoutes(store));
  await http.register(oidcRoutes(store, box));
  await http.register(operatorCertificateRoutes({ store, custody, operatorCa: () => operatorCa }));
  await http.register(productRoutes(store));
  await http.register(notificationRoutes(store));
  await http.register(controlRoutes(store, control));
  const auditDeps = { store, custody, signer: checkpointSigner };
  await http.register(auditRoutes(auditDeps));
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
  await registerSoftwareRoutes(http, {
    store,
    monitor,
    custody,
    masterKey: masterKey.key,
    webhooks: { allowLocal: config.webhookAllowLocal, allowHttp: config.webhookAllowHttp },
  });
  await http.register(
    updatesPlugin({ store, custody, config, jobs, cas: () => cas, log: log.child({ component: "updates" }) }),
  );
  await http.listen({ host: config.http.host, port: config.http.port });
  const address = http.server.address();
  const httpPort = typeof address === "object" && address ? address.port : config.http.port;
  const httpUrl = config.http.port === 0 ? config.publicUrl.replace(/:0$/, `:${httpPort}`) : config.publicUrl;
  publicUrl = httpUrl;

  let stopping: Promise<void> | undefined;
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
    routes,
    log,
    software: { monitor, webhooks },
    stop() {
      stopping ??= (async () => {
        stopAuditMaintenance();
        clearInterval(pkiSchedule);
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
    },
  };
}
