import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { byRole, type CertificateAuthority, listCas } from "../pki/ca.ts";
import { refreshCrls } from "../pki/crl-publisher.ts";
import type { KeyCustody } from "../pki/key-custody.ts";
import { ensureOcspResponders, type Responder } from "../pki/ocsp-responder.ts";
import type { Store } from "../store/store.ts";

/** The PKI as the running server sees it: the current CAs and OCSP responders, kept up to date. */
export interface PkiRuntime {
  cas(): CertificateAuthority[];
  responders(): Responder[];
  /** Re-reads the CA list and brings CRLs and OCSP responders up to date. */
  reload(): Promise<void>;
  root: CertificateAuthority;
  /** Every root's PEM: TLS trusts the ECDSA and the ML-DSA-65 chains. */
  rootPems: string[];
  /** The first root's PEM, written to the data dir for devices and the CLI to pin. */
  rootPemPath: string;
  /** Ends the periodic refresh. */
  stopSchedule(): void;
  /** Drops the CA list at the very end of stop. */
  forget(): void;
}

const REFRESH_MS = 10 * 60 * 1000;

/** Brings CRLs and OCSP responders up to date, then every ten minutes. */
export async function startPki(
  store: Store,
  standing: { custody: KeyCustody; cas: CertificateAuthority[] },
  dataDir: string,
  log: Logger,
): Promise<PkiRuntime> {
  const { custody } = standing;
  let cas = standing.cas;
  let responders: Responder[] = [];
  // Re-reads the CAs; re-signs missing or ageing CRLs (RFC 5280 §5.1.2.5) and keeps an OCSP responder per issuing CA.
  const reload = async () => {
    cas = await listCas(store);
    await refreshCrls(store, custody, cas);
    responders = await ensureOcspResponders(store, custody, cas);
  };
  await reload();
  const schedule = setInterval(
    () => void reload().catch((err) => log.error({ err }, "CRL/OCSP refresh failed")),
    REFRESH_MS,
  );
  schedule.unref();
  const root = byRole(cas, "root");
  // A root imported later is trusted from the next start.
  const rootPems = cas.filter((c) => c.role === "root").map((c) => c.pem);
  const rootPemPath = join(dataDir, "root-ca.pem");
  // A public certificate (devices and clients pin it): readable by all, inside the owner-only data dir.
  writeFileSync(rootPemPath, root.pem, { mode: 0o644 });
  chmodSync(rootPemPath, 0o644);
  return {
    cas: () => cas,
    responders: () => responders,
    reload,
    root,
    rootPems,
    rootPemPath,
    stopSchedule: () => clearInterval(schedule),
    forget: () => {
      cas = [];
    },
  };
}
