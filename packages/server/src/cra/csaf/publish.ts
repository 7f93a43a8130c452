import { createHash, randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { type CvssScore, scoreCvss } from "@bulwark/sdk/software/osv/cvss";
import type { SecretBox } from "../../access/secret-box.ts";
import { type Finding, releaseFindings } from "../../software/findings.ts";
import { listSboms } from "../../software/sboms.ts";
import type { Queryable, Store } from "../../store/store.ts";
import { recordAdvisory } from "../advisory-store.ts";
import { listReleases, productById, type Release } from "../product-source.ts";
import { profileOf } from "../profile.ts";
import { buildAdvisory } from "./advisory.ts";
import { csafFileName, WHITE_DIRECTORY, yearOf } from "./naming.ts";
import { ensureCsafKey } from "./openpgp-key.ts";
import type { CsafValidation } from "./validation.ts";
import { assertValidCsaf } from "./validator-pool.ts";

const PROVIDER = "cra.csaf-provider";
const purlOf = (product: string, version: string) =>
  `pkg:generic/${encodeURIComponent(product)}@${encodeURIComponent(version)}`;
const stillAffected = (f: Finding) =>
  f.status === "open" && f.triage.state !== "fixed" && f.triage.state !== "not_affected";

/** The provider's publisher (CSAF 2.0 §7.1.7 provider-metadata `publisher`), set by the first publication. */
export async function csafProvider(db: Queryable): Promise<{ name: string; namespace: string } | undefined> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [PROVIDER]);
  return row ? (JSON.parse(row.value) as { name: string; namespace: string }) : undefined;
}

/** Vulnerabilities that earlier releases had and `release` no longer has (or has triaged fixed/not affected). */
export async function fixedBy(db: Queryable, releases: readonly Release[], release: Release) {
  if ((await listSboms(db, release.id)).length === 0)
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      `release ${release.version} has no SBOM: what it fixes cannot be shown`,
    );
  const still = new Set(
    (await releaseFindings(db, release.id)).filter(stillAffected).map((f) => f.vulnerability),
  );
  const fixed = new Map<string, { finding: Finding; versions: Set<string> }>();
  for (const earlier of releases.filter((r) => r.createdAt < release.createdAt))
    for (const f of await releaseFindings(db, earlier.id)) {
      if (still.has(f.vulnerability) || f.triage.state === "not_affected") continue;
      const entry = fixed.get(f.vulnerability) ?? { finding: f, versions: new Set<string>() };
      entry.versions.add(earlier.version);
      fixed.set(f.vulnerability, entry);
    }
  return fixed;
}

export async function cvssOf(db: Queryable, vulnerability: string): Promise<CvssScore | undefined> {
  const rows = await db.all<{ cvss_vector: string }>(
    `SELECT cvss_vector FROM vulnerabilities WHERE canonical_id = ? AND cvss_vector IS NOT NULL ORDER BY score_tenths DESC`,
    [vulnerability],
  );
  for (const r of rows) {
    try {
      const s = scoreCvss(r.cvss_vector);
      if (s.version !== "4.0") return s;
    } catch {}
  }
  return undefined;
}

export interface PublishRequest {
  productId: string;
  releaseId: string;
  vulnerabilities?: string[];
  title?: string;
  by: string | null;
  /** Runs the CSAF validator (a worker thread in the server: `CsafValidatorPool`). */
  validate: (text: string) => Promise<CsafValidation>;
  /** Appends the audit entry inside the publication's transaction. */
  audit: (
    tx: Queryable,
    published: { id: string; trackingId: string; vulnerabilities: string[] },
  ) => Promise<void>;
}

/**
 * Builds, hashes (SHA-512), signs (OpenPGP) and stores a CSAF advisory for what a release fixes
 * (CRA Annex I Part II (4), (8)); the caller audit-logs. Returns the stored advisory's id and path.
 */
export async function publishAdvisory(store: Store, box: SecretBox, publicUrl: string, req: PublishRequest) {
  // CSAF 2.0 §7.1.3 (requirement 3): documents are only ever named, and fetched, over TLS.
  if (new URL(publicUrl).protocol !== "https:")
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      `CSAF documents are published over https only; the public URL is ${new URL(publicUrl).origin}`,
    );
  const product = await productById(store, req.productId);
  if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
  const profile = await profileOf(store, product.id);
  if (!profile)
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      "set the product's CRA data first: the advisory names its manufacturer",
    );
  const releases = await listReleases(store, product.id);
  const release = releases.find((r) => r.id === req.releaseId);
  if (!release) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release of the product");
  const fixed = await fixedBy(store, releases, release);
  const chosen = req.vulnerabilities ?? [...fixed.keys()].sort();
  const unknown = chosen.filter((v) => !fixed.has(v));
  if (unknown.length)
    throw new BulwarkError("BW_ERR_VALIDATION", `not fixed by ${release.version}: ${unknown.join(", ")}`);
  if (chosen.length === 0)
    throw new BulwarkError("BW_ERR_CONFLICT", `release ${release.version} fixes no known vulnerability`);
  const now = Date.now();
  const count = await store.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM cra_advisories WHERE product_id = ?`,
    [product.id],
  );
  const slug = product.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  const trackingId = `${slug}-${yearOf(now)}-${String(Number(count?.n ?? 0) + 1).padStart(4, "0")}`;
  const path = `${yearOf(now)}/${csafFileName(trackingId)}`;
  const namespace = new URL("/", publicUrl).href;
  const affectedVersions = [...new Set(chosen.flatMap((v) => [...fixed.get(v)!.versions]))].sort();
  const document = buildAdvisory({
    trackingId,
    title:
      req.title ??
      `${product.name}: ${chosen.length} vulnerabilit${chosen.length === 1 ? "y" : "ies"} fixed in ${release.version}`,
    publisher: { name: profile.manufacturer.name, namespace },
    product: { name: product.name, vendor: profile.manufacturer.name },
    affected: affectedVersions.map((version) => ({ version, purl: purlOf(product.name, version) })),
    fixed: { version: release.version, purl: purlOf(product.name, release.version) },
    vulnerabilities: await Promise.all(
      chosen.map(async (id) => {
        const f = fixed.get(id)!.finding;
        return {
          id,
          aliases: f.advisories,
          summary: f.summary ?? id,
          cvss: await cvssOf(store, id),
          knownExploited: f.knownExploited,
        };
      }),
    ),
    canonicalUrl: new URL(`${WHITE_DIRECTORY}${path}`, publicUrl).href,
    releasedAt: now,
    generator: "0.1.0",
  });
  // CSAF 2.0 §7.1.1 (requirement 1): only a valid document is published; the recommended tests'
  // findings are kept with it. Refused with BW_ERR_CSAF_INVALID listing the failed tests.
  const text = `${JSON.stringify(document, null, 2)}\n`;
  const { warnings } = await assertValidCsaf(req.validate, text);
  const bytes = Buffer.from(text, "utf8");
  const key = await ensureCsafKey(store, box, {
    name: profile.manufacturer.name,
    email: profile.manufacturer.email,
  });
  const signature = await key.sign(bytes);
  const id = randomUUID();
  await store.transaction(async (tx) => {
    if (!(await csafProvider(tx)))
      await tx.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [
        PROVIDER,
        JSON.stringify({ name: profile.manufacturer.name, namespace }),
      ]);
    await recordAdvisory(
      tx,
      {
        id,
        productId: product.id,
        trackingId,
        releaseId: release.id,
        vulnerabilities: chosen,
        document: text,
        sha512: createHash("sha512").update(bytes).digest("hex"),
        signature,
        publishedAt: now,
        warnings,
      },
      req.by,
    );
    await req.audit(tx, { id, trackingId, vulnerabilities: chosen });
  });
  return { id, trackingId, path, vulnerabilities: chosen, document, warnings };
}
