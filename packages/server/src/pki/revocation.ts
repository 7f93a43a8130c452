import { BulwarkError } from "@bulwark/sdk/errors";
import type { RevocationReason } from "@bulwark/sdk/x509/crl";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { Queryable, Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { publishCrl } from "./crl-publisher.ts";
import type { AtCommit } from "./group-commit.ts";
import type { KeyCustody } from "./key-custody.ts";
import {
  type CertificateKind,
  type RevocationRow,
  type RevocationTarget,
  targetRows,
} from "./revocation-targets.ts";

export type { CertificateKind, RevocationTarget } from "./revocation-targets.ts";

export interface RevocationDeps {
  store: Store;
  custody: KeyCustody;
  cas: () => CertificateAuthority[];
  /**
   * Called after the revocation committed, to close the live sessions that authenticated with a
   * device certificate, on every process (the channel raises `certificate.revoked`).
   */
  onRevoked: (revoked: { serial: string; deviceId: string }) => void;
  /**
   * How long the live session of a certificate superseded by renewal stays up, so the device can
   * reconnect with its new certificate before the old one's session is closed. Default 60 s.
   */
  supersededGraceMs?: number;
}

/** One certificate a revocation changed. */
export interface RevokedCertificate {
  serial: string;
  kind: CertificateKind;
  deviceId: string | null;
  caId: string;
  reason: RevocationReason;
  revokedAt: string;
  /** Set when an already revoked certificate had its reason raised to keyCompromise. */
  previousReason?: string;
}

/**
 * The one way a certificate is revoked (STYLE 13: the PKI owns the certificates table). Other
 * domains call it; none of them writes certificate status itself.
 */
export interface RevocationService {
  /** In its own transaction, then `announce`. */
  revoke(
    target: RevocationTarget,
    reason: RevocationReason,
    actor: AuditEntry["actor"],
  ): Promise<RevokedCertificate[]>;
  /**
   * Inside the caller's transaction: mark revoked, audit each, re-sign the CRL of each affected
   * CA (at once, or with `atCommit` once per transaction just before its commit). The caller must
   * `announce` the result once its transaction has committed.
   */
  revokeIn(
    tx: Queryable,
    target: RevocationTarget,
    reason: RevocationReason,
    actor: AuditEntry["actor"],
    atCommit?: AtCommit,
  ): Promise<RevokedCertificate[]>;
  /** After commit: closes the live sessions of the revoked device certificates, on every process. */
  announce(revoked: RevokedCertificate[]): void;
  /** Drops pending (grace-delayed) session closes; for shutdown. */
  close(): void;
}

const DEFAULT_SUPERSEDED_GRACE_MS = 60_000;
const iso = (ms: number | null) => new Date(Number(ms)).toISOString();

/**
 * RFC 5280 §5.3.1: a valid certificate becomes revoked with its reason. An already revoked one
 * only has its reason raised to keyCompromise (a superseded certificate whose key turns out to be
 * stolen), keeping its revocation date. Conditional updates: a concurrent revocation wins once.
 */
async function applyOne(
  tx: Queryable,
  row: RevocationRow,
  reason: RevocationReason,
  now: number,
): Promise<RevokedCertificate | undefined> {
  const base = { serial: row.serial, kind: row.kind, deviceId: row.device_id, caId: row.ca_id, reason };
  if (row.status === "valid") {
    const { changes } = await tx.run(
      `UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
       WHERE serial = ? AND status = 'valid'`,
      [now, reason, row.serial],
    );
    return changes === 1 ? { ...base, revokedAt: iso(now) } : undefined;
  }
  if (reason !== "keyCompromise" || row.revocation_reason === "keyCompromise") return undefined;
  const { changes } = await tx.run(
    `UPDATE certificates SET revocation_reason = 'keyCompromise'
     WHERE serial = ? AND status = 'revoked' AND (revocation_reason IS NULL OR revocation_reason <> 'keyCompromise')`,
    [row.serial],
  );
  if (changes !== 1) return undefined;
  return { ...base, revokedAt: iso(row.revoked_at), previousReason: row.revocation_reason ?? "unspecified" };
}

export function revocationService(deps: RevocationDeps): RevocationService {
  const graceMs = deps.supersededGraceMs ?? DEFAULT_SUPERSEDED_GRACE_MS;
  const pending = new Set<NodeJS.Timeout>();

  /** Step: a new CRL for each CA whose certificates changed, in the same transaction (RFC 5280 §5). */
  async function resignCrls(
    tx: Queryable,
    revoked: RevokedCertificate[],
    atCommit?: AtCommit,
  ): Promise<void> {
    for (const caId of new Set(revoked.map((r) => r.caId))) {
      const ca = deps.cas().find((c) => c.id === caId);
      if (!ca?.hasKey) continue;
      const publish = async (db: Queryable) => {
        await publishCrl(db, deps.custody, ca);
      };
      if (atCommit) atCommit(`crl:${ca.id}`, publish);
      else await publish(tx);
    }
  }

  async function revokeIn(
    tx: Queryable,
    target: RevocationTarget,
    reason: RevocationReason,
    actor: AuditEntry["actor"],
    atCommit?: AtCommit,
  ): Promise<RevokedCertificate[]> {
    const rows = await targetRows(tx, target, reason);
    const now = Date.now();
    const revoked: RevokedCertificate[] = [];
    for (const row of rows) {
      const done = await applyOne(tx, row, reason, now);
      if (done) revoked.push(done);
    }
    if (target.kind === "certificate" && !revoked.length)
      throw new BulwarkError("BW_ERR_CONFLICT", `certificate ${target.serial} is already revoked`);
    const requested = target.kind === "device" ? `device:${target.deviceId}` : `certificate:${target.serial}`;
    for (const r of revoked)
      await appendAudit(tx, {
        actor,
        action: "certificate.revoke",
        target: { type: "certificate", id: r.serial },
        outcome: "success",
        details: {
          reason,
          kind: r.kind,
          deviceId: r.deviceId,
          requested,
          ...(r.previousReason ? { previousReason: r.previousReason } : {}),
        },
      });
    await resignCrls(tx, revoked, atCommit);
    return revoked;
  }

  function announce(revoked: RevokedCertificate[]): void {
    for (const r of revoked) {
      if (!r.deviceId) continue; // operator certificates are checked on every request
      const kick = { serial: r.serial, deviceId: r.deviceId };
      // A superseded certificate's session is closed only after the grace: the agent reconnects
      // with its new certificate first, and the close (by serial) then finds nothing to close.
      if (r.reason !== "superseded" || r.previousReason) {
        deps.onRevoked(kick);
        continue;
      }
      const timer = setTimeout(() => {
        pending.delete(timer);
        deps.onRevoked(kick);
      }, graceMs);
      timer.unref();
      pending.add(timer);
    }
  }

  return {
    revokeIn,
    announce,
    async revoke(target, reason, actor) {
      const revoked = await deps.store.transaction((tx) => revokeIn(tx, target, reason, actor));
      announce(revoked);
      return revoked;
    },
    close() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
