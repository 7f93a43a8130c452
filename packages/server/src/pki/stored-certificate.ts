import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
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

const CONVERT_ROWS = 1000;

/**
 * Migration 823's data step: fills `der` from each row's PEM, in pages by serial (bounded memory
 * whatever the table size). Every PEM must hold exactly one CERTIFICATE block whose SHA-256 is the
 * row's fingerprint; otherwise the migration stops, naming the serial, and its transaction rolls back.
 */
export async function pemCertificatesToDer(tx: Queryable): Promise<void> {
  let after = "";
  for (;;) {
    const rows = await tx.all<{ serial: string; pem: string; fingerprint: string }>(
      `SELECT serial, pem, fingerprint FROM certificates WHERE serial > ? ORDER BY serial LIMIT ?`,
      [after, CONVERT_ROWS],
    );
    for (const row of rows) {
      const blocks = fromPemAll("CERTIFICATE", row.pem);
      const der = blocks.length === 1 ? blocks[0]! : undefined;
      if (!der || sha256Fingerprint(der) !== row.fingerprint)
        throw new Error(
          `migration 823: certificate ${row.serial} is not one PEM certificate matching its fingerprint; nothing was changed`,
        );
      await tx.run(`UPDATE certificates SET der = ? WHERE serial = ?`, [der, row.serial]);
    }
    if (rows.length < CONVERT_ROWS) return;
    after = rows[rows.length - 1]!.serial;
  }
}
