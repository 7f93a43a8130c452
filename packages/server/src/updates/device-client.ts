import type { TLSSocket } from "node:tls";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyRequest } from "fastify";
import { mayDownload } from "../fleet/device-access.ts";
import { identityOf } from "../mqtt/identity.ts";
import { certificateHolds, type RegistryRecord } from "../mqtt/registry-record.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Queryable } from "../store/store.ts";

interface DeviceProductRow {
  device_product: string | null;
  product_id: string | null;
  product_name: string | null;
}

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
  // One query for the certificate, its device and the product (a rollout serves every device in
  // turn: four round-trips per request were ~3 % of the server's busy time; issue #15 item 9).
  const record = await deps.store.get<RegistryRecord & DeviceProductRow>(
    `SELECT c.status AS cert_status, c.device_id AS cert_device_id, c.not_after, d.status AS device_status,
            d.product AS device_product, p.id AS product_id, p.name AS product_name
     FROM certificates c LEFT JOIN devices d ON d.id = c.device_id LEFT JOIN products p ON p.id = ?
     WHERE c.serial = ?`,
    [productId, identity.serial],
  );
  if (!certificateHolds(record, identity.deviceId))
    throw new BulwarkError("BW_ERR_CERTIFICATE_INVALID", "the certificate is revoked, superseded or expired");
  if (!record?.device_status) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
  if (!mayDownload(record.device_status, "update"))
    throw new BulwarkError("BW_ERR_DEVICE_NOT_ALLOWED", `the device is ${record.device_status}`);
  // The device's product is the inventory field (fleet/routes.ts), holding the product's id or name.
  const { device_product: product } = record;
  if (!record.product_id || !product || (product !== record.product_id && product !== record.product_name))
    throw new BulwarkError("BW_ERR_FORBIDDEN", "the device is not one of this product's devices");
  return identity.deviceId;
}
