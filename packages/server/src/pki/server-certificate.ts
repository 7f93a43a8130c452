import { commonNameOnly } from "@bulwark/sdk/x509/name";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { issueCertificate } from "./issue.ts";
import { serverExtensions } from "./profiles.ts";
import { storedCertificate } from "./stored-certificate.ts";

export interface ServerIdentity {
  keyPem: string;
  /** Leaf then the service CA, as TLS presents them. */
  certChainPem: string;
  serial: string;
}

interface StoredServerIdentity {
  keyId: string;
  serial: string;
  names: string;
}

const SETTING = "tls.server";
const VALIDITY_MS = 397 * 24 * 3600 * 1000;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * The TLS identity of the HTTPS and MQTT endpoints, issued by the service CA. Reused across
 * restarts; re-issued when the host names change or it nears expiry.
 */
export async function ensureServerIdentity(
  store: Store,
  custody: KeyCustody,
  serviceCa: CertificateAuthority,
  names: { dns: string[]; ips: string[] },
): Promise<ServerIdentity> {
  const wanted = JSON.stringify(names);
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  if (row) {
    const stored = JSON.parse(row.value) as StoredServerIdentity;
    const cert = await storedCertificate(store, stored.serial);
    if (cert && stored.names === wanted && cert.notAfter - Date.now() > RENEW_BEFORE_MS) {
      return {
        keyPem: await custody.exportPrivateKeyPem(stored.keyId),
        certChainPem: cert.pem + serviceCa.pem,
        serial: stored.serial,
      };
    }
  }
  const key = await custody.generate("tls:server", "ecdsa-p256", { exportable: true });
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const issued = await store.transaction(async (tx) => {
    const certificate = await issueCertificate(tx, custody, {
      ca: serviceCa,
      subjectDer: commonNameOnly(names.dns[0] ?? names.ips[0] ?? "bulwark"),
      subjectText: `server:${wanted}`,
      spki,
      extensions: serverExtensions(names, spki, serviceCa.keyIdentifier),
      validityMs: VALIDITY_MS,
      deviceId: null,
    });
    const value = JSON.stringify({
      keyId: key.id,
      serial: certificate.serial,
      names: wanted,
    } satisfies StoredServerIdentity);
    await tx.run(`DELETE FROM settings WHERE key = ?`, [SETTING]);
    await tx.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [SETTING, value]);
    return certificate;
  });
  return {
    keyPem: await custody.exportPrivateKeyPem(key.id),
    certChainPem: issued.pem + serviceCa.pem,
    serial: issued.serial,
  };
}
