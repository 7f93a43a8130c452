import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { accessPlugin } from "../access/plugin.ts";
import type { SecretBox } from "../access/secret-box.ts";
import { auditPlugin } from "../audit/plugin.ts";
import type { Config } from "../config.ts";
import { craCapabilities } from "../cra/capabilities.ts";
import { craRoutes } from "../cra/plugin.ts";
import { updateEvidence } from "../cra/update-evidence.ts";
import { claimCaRoutes } from "../enrolment/claim-routes.ts";
import { estRoutes } from "../enrolment/est-routes.ts";
import { policyRoutes as provisioningPolicyRoutes } from "../enrolment/policy-routes.ts";
import { tokenRoutes } from "../enrolment/token-routes.ts";
import { controlRoutes } from "../fleet/disconnect-routes.ts";
import { fleetPlugin } from "../fleet/plugin.ts";
import { transferRoutes } from "../fleet/transfer-routes.ts";
import type { EmbeddedBroker } from "../mqtt/broker.ts";
import { byRole } from "../pki/ca.ts";
import { GroupCommit } from "../pki/group-commit.ts";
import { operatorCertificateRoutes } from "../pki/operator-certificate-routes.ts";
import { pkiPlugin } from "../pki/plugin.ts";
import { pkiUrls } from "../pki/profiles.ts";
import { productById } from "../products/products.ts";
import { productRoutes } from "../products/routes.ts";
import { softwarePlugin } from "../software/plugin.ts";
import type { Store } from "../store/store.ts";
import { updatesPlugin } from "../updates/plugin.ts";
import type { Cluster } from "./cluster.ts";
import type { CraRuntime } from "./cra.ts";
import type { Fleet } from "./devices.ts";
import type { PkiRuntime } from "./pki-runtime.ts";
import type { SoftwareRuntime } from "./software.ts";
import type { Standing } from "./standing.ts";

export interface DomainDeps {
  store: Store;
  standing: Standing;
  pki: PkiRuntime;
  fleet: Fleet;
  cluster: Cluster;
  broker: EmbeddedBroker;
  mqttUrl: string;
  software: SoftwareRuntime;
  cra: CraRuntime;
  box: SecretBox;
  /** The base URL certificates point to (CRL, OCSP, AIA); known for certain once HTTPS listens. */
  publicUrl: () => string;
  config: Config;
  log: Logger;
}

/** Every domain's HTTP API, one encapsulated plugin each, after the two public service routes. */
export async function registerDomains(http: FastifyInstance, deps: DomainDeps): Promise<void> {
  const { store, standing, pki, fleet, config } = deps;
  const { custody } = standing;
  const revocation = fleet.revocation;
  http.get("/healthz", { config: { auth: { public: true } } }, async () => {
    await store.ping();
    return { status: "ok", devicesConnected: deps.broker.connectedDevices() };
  });
  http.get("/api/v1/endpoints", { config: { auth: { public: true } } }, async () => ({
    mqtt: deps.mqttUrl,
    est: new URL("/.well-known/est/", config.publicUrl).href,
  }));
  // Concurrent enrolments share one commit (each in its own savepoint); see pki/group-commit.ts.
  const enrolments = new GroupCommit(store);
  const urls = pkiUrls(deps.publicUrl);
  await http.register(
    estRoutes({ store, custody, cas: pki.cas, urls, transact: enrolments.transact, revocation }),
  );
  await http.register(
    pkiPlugin({ store, custody, cas: pki.cas, responders: pki.responders, revocation, reload: pki.reload }),
  );
  await http.register(provisioningPolicyRoutes({ store, cas: pki.cas }));
  await http.register(tokenRoutes(store));
  await http.register(claimCaRoutes(store));
  await http.register(fleetPlugin({ store, fleet: fleet.fleet }));
  await http.register(transferRoutes(fleet.transfers));
  await http.register(
    accessPlugin({
      store,
      box: deps.box,
      productExists: async (tx, id) => (await productById(tx, id)) !== undefined,
    }),
  );
  const operatorCa = () => standing.operatorCa;
  await http.register(operatorCertificateRoutes({ store, custody, operatorCa, revocation }));
  await http.register(productRoutes(store));
  await http.register(
    craRoutes({
      store,
      custody,
      box: deps.box,
      capabilities: craCapabilities(updateEvidence),
      wake: () => deps.cra.article14.wake(),
      notices: fleet.notices,
      publicUrl: deps.publicUrl,
      serviceCa: () => byRole(pki.cas(), "service"),
    }),
  );
  await http.register(controlRoutes(store, deps.cluster.control));
  await http.register(auditPlugin({ store, custody, signer: standing.checkpointSigner }));
  await http.register(softwarePlugin({ store, custody, ...deps.software.routes }));
  const updates = {
    store,
    custody,
    config,
    jobs: fleet.updates,
    cas: pki.cas,
    log: deps.log.child({ component: "updates" }),
    // A background delta job's claim holds for 3 beats of the process heartbeat (as a process is
    // found dead after 3 missed beats): after that any process takes the job over.
    deltaJobLeaseMs: 3 * config.heartbeatMs,
  };
  await http.register(updatesPlugin(updates));
}
