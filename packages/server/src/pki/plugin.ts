import type { FastifyInstance } from "fastify";
import type { Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { caRoutes } from "./ca-routes.ts";
import { certificateRoutes } from "./cert-routes.ts";
import { distributionRoutes } from "./distribution-routes.ts";
import type { KeyCustody } from "./key-custody.ts";
import type { Responder } from "./ocsp-responder.ts";
import type { RevocationService } from "./revocation.ts";

export interface PkiPluginDeps {
  store: Store;
  custody: KeyCustody;
  cas: () => CertificateAuthority[];
  responders: () => Responder[];
  revocation: RevocationService;
  /** Re-reads the CA list and brings CRLs and OCSP responders up to date. */
  reload: () => Promise<void>;
}

/**
 * The PKI's HTTP API: CRL and OCSP distribution (RFC 5280 §4.2.1.13, RFC 6960), certificates and
 * their revocation, certificate authorities. Encapsulated: it only adds routes.
 */
export function pkiPlugin(deps: PkiPluginDeps) {
  return async function pki(app: FastifyInstance): Promise<void> {
    await app.register(distributionRoutes(deps));
    await app.register(certificateRoutes(deps));
    await app.register(caRoutes(deps));
  };
}
