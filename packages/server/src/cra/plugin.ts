import type { FastifyInstance } from "fastify";
import type { SecretBox } from "../access/secret-box.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import type { UserNoticeDelivery } from "./article14/notice-delivery.ts";
import { article14Routes } from "./article14/routes.ts";
import { PROVIDER_METADATA } from "./csaf/naming.ts";
import { ensureCsafKey } from "./csaf/openpgp-key.ts";
import { csafProvider } from "./csaf/publish.ts";
import { csafRoutes } from "./csaf/routes.ts";
import { disclosureRoutes } from "./disclosure/routes.ts";
import type { DisclosureSettings } from "./disclosure/settings.ts";
import { evidenceRoutes } from "./evidence/routes.ts";
import type { PlatformCapabilities } from "./evidence/types.ts";
import { exportRoutes } from "./export/routes.ts";
import { productCraRoutes } from "./product-routes.ts";
import { testingRoutes } from "./testing-routes.ts";

export interface CraDeps {
  store: Store;
  custody: KeyCustody;
  /** Seals the CSAF OpenPGP private key at rest. */
  box: SecretBox;
  capabilities: PlatformCapabilities;
  /** Wakes the Article 14 watcher (reminders) after a report changes. */
  wake: () => void;
  /** Sends CRA Art. 14(8) notices to devices in-band. */
  notices: UserNoticeDelivery;
  /** The platform's public base URL (security.txt names its own locations under it). */
  publicUrl: () => string;
  /** The service CA: it certifies the documentation-signing key of exports. */
  serviceCa: () => CertificateAuthority;
}

/** The CRA compliance domain's HTTP routes, as one Fastify plugin (issue #16). */
export function craRoutes(deps: CraDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    await productCraRoutes(app, deps.store);
    await evidenceRoutes(app, deps.store, deps.capabilities);
    await testingRoutes(app, deps.store);
    await article14Routes(app, deps);
    await csafRoutes(app, deps);
    await exportRoutes(app, deps);
    // RFC 9116 + CSAF 2.0 §7.1.8: security.txt names the provider metadata once there is one.
    const csafProviderMetadata = async () =>
      (await csafProvider(deps.store)) ? new URL(PROVIDER_METADATA, deps.publicUrl()).href : null;
    // RFC 9116 §2.3: security.txt is signed with the key that signs the CSAF documents. Its user ID
    // is set when the key is first made: the CSAF publisher once there is one, else the host.
    const signSecurityTxt = async (text: string, settings: DisclosureSettings) => {
      const host = new URL(deps.publicUrl()).hostname;
      const mail = settings.contact
        .find((c) => c.startsWith("mailto:"))
        ?.slice("mailto:".length)
        .split("?")[0];
      const provider = await csafProvider(deps.store);
      const key = await ensureCsafKey(deps.store, deps.box, {
        name: provider?.name ?? host,
        email: mail ?? `security@${host}`,
      });
      return key.signCleartext(text);
    };
    await disclosureRoutes(app, { ...deps, csafProviderMetadata, signSecurityTxt });
  };
}
