import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { fromPemAll } from "@bulwark/sdk/pem";
import type { Queryable } from "./store.ts";

// A migration's data step lives with the migrations, not in a domain: applied history must not
// change when the domain's code does (and store/ imports no domain).

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
