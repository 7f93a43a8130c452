import { productRawSboms, rawFileName } from "../../software/sbom-raw.ts";
import { listSboms } from "../../software/sboms.ts";
import type { Store } from "../../store/store.ts";
import { listAdvisories } from "../advisory-store.ts";
import { disclosureSettings } from "../disclosure/settings.ts";
import { evaluateAnnexI } from "../evidence/engine.ts";
import { STANDARDS_MAP, STANDARDS_MAP_VERSION } from "../evidence/standards-map.ts";
import type { PlatformCapabilities } from "../evidence/types.ts";
import { listReleases, type Product } from "../product-source.ts";
import { HARMONISED_STANDARDS_CITED, profileOf } from "../profile.ts";
import { currentRiskAssessment } from "../risk.ts";
import { supportPeriods } from "../support.ts";
import { testRecords } from "../testing.ts";
import { platformChecks } from "../testing-routes.ts";

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/**
 * The three documents of the export, built from live platform state: the technical documentation
 * (CRA Annex VII), the EU declaration of conformity (Annex V) and the information and
 * instructions to the user (Annex II).
 */
export async function craDocuments(
  store: Store,
  product: Product,
  capabilities: PlatformCapabilities,
  publicUrl: string,
) {
  const profile = (await profileOf(store, product.id)) ?? null;
  const releases = await listReleases(store, product.id);
  const current = releases.at(-1);
  const risk = (await currentRiskAssessment(store, product.id)) ?? null;
  const support = await supportPeriods(store, product.id);
  const disclosure = (await disclosureSettings(store)) ?? null;
  const matrix = await evaluateAnnexI(store, product, capabilities);
  // CRA Annex VII point 2(b) / Annex I Part II (1): the SBOMs themselves travel in the bundle as
  // uploaded (`sboms/<release>/<id>.cdx.json`), each listed here with its TR-03183-2 gaps.
  const originals = new Map((await productRawSboms(store, product.id)).map((r) => [r.sbomId, r]));
  const sbomFiles: Record<string, Uint8Array> = {};
  const sboms = [];
  for (const r of releases)
    for (const s of await listSboms(store, r.id)) {
      const raw = originals.get(s.id);
      const file = raw?.bytes
        ? `sboms/${r.version.replace(/[^A-Za-z0-9._-]+/g, "_")}/${rawFileName(raw)}`
        : null;
      if (file && raw?.bytes) sbomFiles[file] = raw.bytes;
      sboms.push({
        release: r.version,
        format: s.format,
        specVersion: s.specVersion,
        components: s.components,
        sha256: s.sha256,
        file,
        bsiTr03183Version: s.minimumElements.bsiVersion ?? "2.0.0",
        bsiTr03183Gaps: s.minimumElements.gaps
          .filter((g) => g.standard === "BSI-TR-03183-2")
          .map((g) => (g.clause ? `${g.element} (${g.clause})` : g.element)),
      });
    }
  const advisories = (await listAdvisories(store, product.id)).map((a) => ({
    trackingId: a.tracking_id,
    vulnerabilities: JSON.parse(a.vulnerabilities) as string[],
    publishedAt: iso(Number(a.published_at)),
  }));
  const blocking = matrix.requirements
    .filter((r) => r.status === "not-met")
    .map((r) => `${r.id}: ${r.reason}`);
  const supportEnd = current ? (support.find((s) => s.version === current.version)?.endsAt ?? null) : null;
  const url = (path: string) => new URL(path, publicUrl).href;

  // CRA Annex V, points 1–8.
  const declaration = {
    title: "EU declaration of conformity (Regulation (EU) 2024/2847, Annex V)",
    status: blocking.length === 0 ? "ready to sign" : "draft: not ready to sign",
    blockingRequirements: blocking,
    product: { name: product.name, id: product.id, version: current?.version ?? null },
    manufacturer: profile?.manufacturer ?? null,
    authorisedRepresentative: profile?.representative ?? null,
    soleResponsibility:
      "This declaration of conformity is issued under the sole responsibility of the manufacturer.",
    object: {
      name: product.name,
      version: current?.version ?? null,
      intendedPurpose: profile?.intendedPurpose ?? null,
    },
    conformity:
      "The object of the declaration described above is in conformity with the relevant Union harmonisation legislation: Regulation (EU) 2024/2847.",
    harmonisedStandards: HARMONISED_STANDARDS_CITED
      ? []
      : "none cited in the Official Journal; see the technical documentation",
    conformityAssessment: profile
      ? { category: profile.category, annexCategory: profile.annexCategory, route: profile.conformityRoute }
      : null,
    notifiedBody:
      profile && profile.conformityRoute !== "module-a"
        ? "to be completed: name, number and certificate of the notified body"
        : null,
    signedFor: {
      place: null,
      date: null,
      name: null,
      function: null,
      signature: "to be signed by the manufacturer",
    },
  };

  // CRA Annex II, points 1–9.
  const userInformation = {
    title: "Information and instructions to the user (Regulation (EU) 2024/2847, Annex II)",
    manufacturer: profile?.manufacturer ?? null,
    vulnerabilityContact: disclosure?.contact ?? [],
    cvdPolicy: disclosure?.policy ? url("/security/policy") : null,
    securityTxt: disclosure ? url("/.well-known/security.txt") : null,
    product: { name: product.name, version: current?.version ?? null },
    intendedPurpose: profile?.intendedPurpose ?? null,
    foreseeableRisks: risk?.document.threats.map((t) => t.description) ?? [],
    declarationOfConformity: "declaration-of-conformity.html in this bundle",
    supportEnds: iso(supportEnd),
    instructions: {
      commissioning:
        "Enrol each device with a one-time token; it receives its own certificate and connects only over mutual TLS 1.3.",
      updates: capabilities.updates
        ? "Security updates install automatically; the device policy allows postponing them and opting out."
        : "Security updates: the platform's signed-update delivery is not part of this build.",
      automaticUpdatesOff:
        "The device policy setting updates.mode = manual turns automatic installation off (updates.optOutAllowed).",
      decommissioning:
        "Decommission the device in the console or with bulwark device decommission: its data key is destroyed (crypto-erase) and its certificates revoked.",
    },
    sbom: sboms.length
      ? "The SBOM of each release is available from the manufacturer on request and, as uploaded, in the technical documentation (sboms/)."
      : null,
  };

  // CRA Annex VII, points 1–8.
  const technicalDocumentation = {
    title: "Technical documentation (Regulation (EU) 2024/2847, Annex VII)",
    generatedAt: new Date().toISOString(),
    generalDescription: {
      product: { id: product.id, name: product.name },
      profile,
      releases: releases.map((r) => ({
        version: r.version,
        classification: r.classification,
        createdAt: iso(r.createdAt),
      })),
    },
    designAndVulnerabilityHandling: {
      sboms,
      cvdPolicy: disclosure?.policy ?? null,
      securityContact: disclosure?.contact ?? [],
      advisories,
      updateMechanism: capabilities.updates ? "signed updates (TUF)" : "not part of this build (issue #15)",
    },
    riskAssessment: risk,
    supportPeriods: support.map((s) => ({ ...s, endsAt: iso(s.endsAt) })),
    standardsApplied: {
      harmonisedStandardsCited: HARMONISED_STANDARDS_CITED,
      draftStandardsMap: { version: STANDARDS_MAP_VERSION, map: STANDARDS_MAP },
    },
    testReports: {
      recorded: (await testRecords(store, product.id)).map((t) => ({
        ...t,
        performedAt: iso(t.performedAt),
        report: t.report ? `${t.report.length} characters` : null,
      })),
      platformChecks: (await platformChecks(store, product.id)).map((c) => ({
        ...c,
        performedAt: iso(c.performedAt),
      })),
    },
    annexIMatrix: matrix,
    declarationOfConformity: declaration,
  };
  return { technicalDocumentation, declaration, userInformation, sbomFiles };
}
