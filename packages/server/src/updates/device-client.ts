import type { TLSSocket } from "node:tls";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyRequest } from "fastify";
import { assertDeviceMayDownload } from "../fleet/device-access.ts";
import { identityOf } from "../mqtt/identity.ts";
import { certificateHolds, registryRecord } from "../mqtt/registry-record.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Queryable } from "../store/store.ts";
import { productById } from "./products.ts";

export interface DeviceClientDeps {
  store: Queryable;
  deviceCas: () => CertificateAuthority[];
}

/**
 * The device behind an HTTPS request for update metadata or an artifact, authenticated by its
 * client certificate alone (mutual TLS; RFC 8446 §4.4.2): the chain verified by the handshake to
 * a device-issuing CA, the certificate valid in the registry (RFC 5280 §5.3.1: not revoked, not
 * superseded, unexpired), the device allowed to download (fleet/device-access.ts: an active
 * device; disabled, quarantined, compromised ones are cut off) and one of `productId`'s devices.
 */
export async function deviceForProduct(
  deps: DeviceClientDeps,
  request: FastifyRequest,
  productId: string,
): Promise<string> {
  const identity = identityOf(request.raw.socket as TLSSocket, deps.deviceCas);
  if (identity === "no-certificate")
    throw new BulwarkError(
      "BW_ERR_CLIENT_CERTIFICATE_REQUIRED",
      "present a device certificate over mutual TLS",
    );
  if (typeof identity === "string")
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the certificate is not a device certificate");
  if (!certificateHolds(await registryRecord(deps.store, identity.serial), identity.deviceId))
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the certificate is revoked, superseded or expired");
  await assertDeviceMayDownload(deps.store, identity.deviceId, "update");
  const product = await productById(deps.store, productId);
  const device = await deps.store.get<{ product: string | null }>(
    `SELECT product FROM devices WHERE id = ?`,
    [identity.deviceId],
  );
  // The device's product is the inventory field (fleet/routes.ts), holding the product's id or name.
  if (!product || !device?.product || (device.product !== product.id && device.product !== product.name))
    throw new BulwarkError("BW_ERR_FORBIDDEN", "the device is not one of this product's devices");
  return identity.deviceId;
}
