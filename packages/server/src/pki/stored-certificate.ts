import { toPem } from "@bulwark/sdk/pem";
import type { Queryable } from "../store/store.ts";

/**
 * A certificate row's DER as the driver returns it (node:sqlite: Uint8Array for a BLOB; pg: Buffer
 * for BYTEA), as a Buffer over the same bytes.
 */
export function storedDer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export interface StoredCertificate {
  der: Buffer;
  /** RFC 7468 text, made from the DER on each read. */
  readonly pem: string;
  notAfter: number;
}

/** One certificate by serial, or undefined. */
export async function storedCertificate(
  db: Queryable,
  serial: string,
): Promise<StoredCertificate | undefined> {
  const row = await db.get<{ der: Uint8Array; not_after: number }>(
    `SELECT der, not_after FROM certificates WHERE serial = ?`,
    [serial],
  );
  if (!row) return undefined;
  const der = storedDer(row.der);
  return {
    der,
    get pem() {
      return toPem("CERTIFICATE", der);
    },
    notAfter: Number(row.not_after),
  };
}
