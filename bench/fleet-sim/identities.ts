import { generateKeyPairSync } from "node:crypto";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { appendAudit } from "../../packages/server/src/audit/audit-log.ts";
import { FileKeyCustody } from "../../packages/server/src/custody/file-key-custody.ts";
import { loadMasterKey } from "../../packages/server/src/custody/master-key.ts";
import { insertDevice, newDeviceId } from "../../packages/server/src/fleet/devices.ts";
import { groupByName } from "../../packages/server/src/fleet/groups.ts";
import { byRole, listCas } from "../../packages/server/src/pki/ca.ts";
import { issueCertificate } from "../../packages/server/src/pki/issue.ts";
import { deviceExtensions, pkiUrls } from "../../packages/server/src/pki/profiles.ts";
import type { Store } from "../../packages/server/src/store/store.ts";

/** One simulated device: its own P-256 key and a certificate from the server's device CA. */
export interface SimDevice {
  deviceId: string;
  keyPem: string;
  /** Leaf then issuing CA, as a TLS client presents it. */
  certChainPem: string;
}

const BATCH = 250;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Issues `count` device identities in bulk through the server's own issuance path (the same
 * device row, certificate profile, device CA signature through key custody and audit entry as
 * EST enrolment, minus the HTTP round trip and the CSR), straight into the server's store.
 * Writes them as JSON lines to `file` for the workers. Use `enrolDirect` for real EST.
 */
export async function issueSimDevices(options: {
  store: Store;
  dataDir: string;
  /** The server's public URL, for the AIA and CRL distribution point extensions. */
  publicUrl: string;
  count: number;
  file: string;
  onProgress?: (issued: number) => void;
}): Promise<void> {
  const master = loadMasterKey(options.dataDir, process.env.BULWARK_MASTER_KEY);
  const custody = new FileKeyCustody({ dir: join(options.dataDir, "keys"), masterKey: master.key });
  const ca = byRole(await listCas(options.store), "device");
  const urls = pkiUrls(() => options.publicUrl);
  const group = await groupByName(options.store, "default");
  if (!group) throw new Error("the default group is missing");
  const out = createWriteStream(options.file, { mode: 0o600 });
  for (let done = 0; done < options.count; ) {
    const size = Math.min(BATCH, options.count - done);
    const lines = await options.store.transaction(async (tx) => {
      const batch: string[] = [];
      for (let i = 0; i < size; i++) {
        const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
        const spki = keys.publicKey.export({ type: "spki", format: "der" });
        const deviceId = newDeviceId();
        await insertDevice(tx, { id: deviceId, groupId: group.id, enrolledVia: "bench-bulk" });
        const cert = await issueCertificate(tx, custody, {
          ca,
          subjectDer: commonNameOnly(deviceId),
          subjectText: `CN=${deviceId}`,
          spki,
          extensions: deviceExtensions(deviceId, spki, ca, urls),
          validityMs: DAY_MS,
          deviceId,
        });
        const device: SimDevice = {
          deviceId,
          keyPem: keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
          certChainPem: cert.pem + ca.pem,
        };
        batch.push(JSON.stringify(device));
      }
      await appendAudit(tx, {
        actor: { type: "system", id: "bench" },
        action: "device.enrol",
        outcome: "success",
        details: { method: "bench-bulk", count: size },
      });
      return batch;
    });
    out.write(`${lines.join("\n")}\n`);
    done += size;
    options.onProgress?.(done);
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}
