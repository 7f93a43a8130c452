import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { accessRoutes } from "./access/routes.ts";
import { bootstrapIfEmpty, type FirstRun } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import { type ControlBus, LocalControlBus } from "./control/bus.ts";
import { RedisControlBus } from "./control/redis-bus.ts";
import { controlRoutes } from "./control/routes.ts";
import { markAllOffline } from "./fleet/devices.ts";
import { fleetRoutes } from "./fleet/routes.ts";
import { accessControl, requireRouteAuth } from "./http/auth.ts";
import { problemDetails } from "./http/problems.ts";
import { type EmbeddedBroker, startBroker } from "./mqtt/broker.ts";
import { redisBrokerBackends } from "./mqtt/redis-backends.ts";
import { byRole, type CertificateAuthority, listCas } from "./pki/ca.ts";
import { estRoutes } from "./pki/est-routes.ts";
import { FileKeyCustody } from "./pki/file-key-custody.ts";
import { loadMasterKey, type MasterKey } from "./pki/master-key.ts";
import { ensureServerIdentity } from "./pki/server-certificate.ts";
import { tokenRoutes } from "./pki/token-routes.ts";
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
  /** Control events to every server process: `control.publish({ type: "device.disconnect", deviceId })`. */
  control: ControlBus;
  http: FastifyInstance;
  log: Logger;
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
  // generates the master key, migrates and bootstraps; the others wait and then find it done.
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
    const cas = await listCas(store);
    const identity = await ensureServerIdentity(store, custody, byRole(cas, "service"), config.publicNames);
    return { masterKey, custody, firstRun, cas, identity };
  });
  const { masterKey, custody, firstRun, identity } = startup;
  let cas: CertificateAuthority[] = startup.cas;
  const root = byRole(cas, "root");
  const rootPemPath = join(config.dataDir, "root-ca.pem");
  writeFileSync(rootPemPath, root.pem);
  // One process alone knows no device is connected yet; in scale-out the others hold live sessions.
  const scaledOut = config.redisUrl !== undefined;
  if (!scaledOut) await markAllOffline(store);

  const onControlError = (error: unknown) => log.warn({ err: error }, "control bus");
  const control: ControlBus = config.redisUrl
    ? await RedisControlBus.connect(config.redisUrl, onControlError)
    : new LocalControlBus(onControlError);
  const backends = config.redisUrl ? redisBrokerBackends(config.redisUrl) : undefined;

  const broker = await startBroker({
    store,
    log: log.child({ component: "mqtt" }),
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: { keyPem: identity.keyPem, certChainPem: identity.certChainPem, trustedCaPems: [root.pem] },
    deviceCas: () => cas.filter((ca) => ca.role === "device"),
    backends,
  });
  control.subscribe((event) => {
    switch (event.type) {
      case "device.disconnect": {
        const closed = broker.disconnect(event.deviceId);
        if (closed)
          log.info({ deviceId: event.deviceId, sessions: closed }, "device disconnected by control event");
        break;
      }
    }
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
  await http.register(controlRoutes(store, control));
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
    control,
    http,
    log,
    stop() {
      stopping ??= (async () => {
        await http.close();
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
