import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { accessRoutes } from "./access/routes.ts";
import { bootstrapIfEmpty, type FirstRun } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import { productRoutes } from "./cra/products.ts";
import { markAllOffline } from "./fleet/devices.ts";
import { fleetRoutes } from "./fleet/routes.ts";
import { accessControl, requireRouteAuth } from "./http/auth.ts";
import { problemDetails } from "./http/problems.ts";
import { type EmbeddedBroker, startBroker } from "./mqtt/broker.ts";
import { byRole, type CertificateAuthority, listCas } from "./pki/ca.ts";
import { estRoutes } from "./pki/est-routes.ts";
import { FileKeyCustody } from "./pki/file-key-custody.ts";
import { loadMasterKey, type MasterKey } from "./pki/master-key.ts";
import { ensureServerIdentity } from "./pki/server-certificate.ts";
import { tokenRoutes } from "./pki/token-routes.ts";
import { SoftwareMonitor } from "./software/monitor.ts";
import { registerSoftwareRoutes } from "./software/routes.ts";
import { WebhookDispatcher } from "./software/webhooks/dispatcher.ts";
import { migrate } from "./store/migrate.ts";
import { migrations } from "./store/migrations.ts";
import { SqliteStore } from "./store/sqlite.ts";
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
  http: FastifyInstance;
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
  const masterKey = loadMasterKey(config.dataDir, config.masterKey);
  const store: Store = new SqliteStore(join(config.dataDir, "bulwark.db"));
  await migrate(store, migrations);
  const custody = new FileKeyCustody({
    dir: join(config.dataDir, "keys"),
    masterKey: masterKey.key,
    onUse: (use) =>
      log.debug({ keyId: use.keyId, label: use.label, operation: use.operation }, "custody key used"),
  });
  const firstRun = await bootstrapIfEmpty(store, custody, { adminKeyFile: config.bootstrapAdminKeyFile });
  let cas: CertificateAuthority[] = await listCas(store);
  const root = byRole(cas, "root");
  const rootPemPath = join(config.dataDir, "root-ca.pem");
  writeFileSync(rootPemPath, root.pem);
  const identity = await ensureServerIdentity(store, custody, byRole(cas, "service"), config.publicNames);
  await markAllOffline(store);

  const broker = await startBroker({
    store,
    log: log.child({ component: "mqtt" }),
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: { keyPem: identity.keyPem, certChainPem: identity.certChainPem, trustedCaPems: [root.pem] },
    deviceCas: () => cas.filter((ca) => ca.role === "device"),
  });
  const mqttUrl =
    config.mqtt.port === 0 ? config.publicMqttUrl.replace(/:0$/, `:${broker.port}`) : config.publicMqttUrl;

  // Typed as a plain FastifyInstance so domain plugins need not know the server is HTTPS.
  const http = Fastify({
    loggerInstance: log.child({ component: "http" }),
    https: {
      key: identity.keyPem,
      cert: identity.certChainPem,
      ca: [root.pem],
      // Client certificates are asked for but optional: EST re-enrolment and operator sign-in use them.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    },
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  requireRouteAuth(http);
  problemDetails(http);
  accessControl(http, store);
  http.get("/healthz", { config: { auth: { public: true } } }, async () => {
    await store.get(`SELECT 1 AS ok`);
    return { status: "ok", devicesConnected: broker.connectedDevices() };
  });
  http.get("/api/v1/endpoints", { config: { auth: { public: true } } }, async () => ({
    mqtt: mqttUrl,
    est: new URL("/.well-known/est/", config.publicUrl).href,
  }));
  await http.register(
    estRoutes({
      store,
      custody,
      deviceCa: () => byRole(cas, "device"),
      cas: () => cas,
    }),
  );
  await http.register(tokenRoutes(store));
  await http.register(fleetRoutes(store));
  await http.register(accessRoutes(store));
  const webhooks = new WebhookDispatcher({
    store,
    masterKey: masterKey.key,
    log: log.child({ component: "webhooks" }),
  });
  const monitor = new SoftwareMonitor(store, () => webhooks.wake());
  // Deliveries still pending from before a restart are resumed.
  webhooks.wake();
  await http.register(productRoutes(store));
  await registerSoftwareRoutes(http, { store, monitor, custody, masterKey: masterKey.key });
  await http.listen({ host: config.http.host, port: config.http.port });
  const address = http.server.address();
  const httpPort = typeof address === "object" && address ? address.port : config.http.port;
  const httpUrl = config.http.port === 0 ? config.publicUrl.replace(/:0$/, `:${httpPort}`) : config.publicUrl;

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
    http,
    log,
    software: { monitor, webhooks },
    stop() {
      stopping ??= (async () => {
        await http.close();
        await webhooks.stop();
        await broker.close();
        await markAllOffline(store);
        await store.close();
        cas = [];
      })();
      return stopping;
    },
  };
}
