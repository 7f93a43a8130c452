import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import type { SecretBox } from "../../access/secret-box.ts";
import { appendAudit } from "../../audit/audit-log.ts";
import { actorOf } from "../../http/auth.ts";
import { releaseFindings } from "../../software/findings.ts";
import type { Store } from "../../store/store.ts";
import { type AdvisoryRow, listAdvisories } from "../advisory-store.ts";
import { byOf } from "../audited.ts";
import { releaseById } from "../product-source.ts";
import { profileOf } from "../profile.ts";
import { csafFileName, PROVIDER_METADATA, WHITE_DIRECTORY, yearOf } from "./naming.ts";
import { csafPublicKey } from "./openpgp-key.ts";
import { csafProvider, cvssOf, publishAdvisory } from "./publish.ts";
import { buildVex } from "./vex.ts";

const PUBLIC_RATE = { max: 600, timeWindow: 60_000, groupId: "csaf-public" };
const pathOf = (a: AdvisoryRow) => `${yearOf(Number(a.published_at))}/${csafFileName(a.tracking_id)}`;
const PRODUCT = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", format: "uuid" } },
} as const;

export interface CsafDeps {
  store: Store;
  box: SecretBox;
  publicUrl: () => string;
}

/** CSAF 2.0 provider (issue #16 item 5): publication API and the public directory distribution. */
export async function csafRoutes(app: FastifyInstance, deps: CsafDeps): Promise<void> {
  const { store } = deps;
  const url = (path: string) => new URL(path, deps.publicUrl()).href;

  app.post<{
    Params: { id: string };
    Body: { releaseId: string; vulnerabilities?: string[]; title?: string };
  }>(
    "/api/v1/products/:id/advisories",
    {
      config: { auth: { permission: "cra:write", productParam: "id" } },
      schema: {
        params: PRODUCT,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["releaseId"],
          properties: {
            releaseId: { type: "string", format: "uuid" },
            vulnerabilities: {
              type: "array",
              minItems: 1,
              maxItems: 500,
              uniqueItems: true,
              items: { type: "string", minLength: 1, maxLength: 64 },
            },
            title: { type: "string", minLength: 1, maxLength: 300 },
          },
        },
      },
    },
    async (request, reply) => {
      const published = await publishAdvisory(store, deps.box, deps.publicUrl(), {
        productId: request.params.id,
        ...request.body,
        by: byOf(request),
        audit: async (tx, p) => {
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "cra.advisory.publish",
            target: { type: "advisory", id: p.id },
            outcome: "success",
            details: { trackingId: p.trackingId, vulnerabilities: p.vulnerabilities },
          });
        },
      });
      reply.code(201);
      return { ...published, url: url(`${WHITE_DIRECTORY}${published.path}`) };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/advisories",
    { config: { auth: { permission: "cra:read", productParam: "id" } }, schema: { params: PRODUCT } },
    async (request) => ({
      items: (await listAdvisories(store, request.params.id)).map((a) => ({
        id: a.id,
        trackingId: a.tracking_id,
        releaseId: a.release_id,
        vulnerabilities: JSON.parse(a.vulnerabilities) as string[],
        publishedAt: new Date(Number(a.published_at)).toISOString(),
        url: url(`${WHITE_DIRECTORY}${pathOf(a)}`),
      })),
    }),
  );

  // CSAF 2.0 csaf_vex profile: the release's current triage as a VEX document.
  const vex = async (request: { params: { id: string; file?: string } }) => {
    const release = await releaseById(store, request.params.id);
    if (!release) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
    if (request.params.file !== undefined && request.params.file !== csafFileName(trackingOf(release)))
      throw new BulwarkError("BW_ERR_NOT_FOUND", "no such VEX document");
    const profile = await profileOf(store, release.productId);
    if (!profile)
      throw new BulwarkError(
        "BW_ERR_CONFLICT",
        "set the product's CRA data first: the VEX names its manufacturer",
      );
    const findings = await releaseFindings(store, release.id);
    const cvss = new Map();
    for (const v of new Set(findings.map((f) => f.vulnerability))) cvss.set(v, await cvssOf(store, v));
    return buildVex({
      trackingId: trackingOf(release),
      publisher: { name: profile.manufacturer.name, namespace: new URL("/", deps.publicUrl()).href },
      vendor: profile.manufacturer.name,
      product: release.productName,
      version: release.version,
      releasePurl: `pkg:generic/${encodeURIComponent(release.productName)}@${encodeURIComponent(release.version)}`,
      findings,
      cvss,
      canonicalUrl: url(`/api/v1/releases/${release.id}/csaf-vex/${csafFileName(trackingOf(release))}`),
      at: Date.now(),
    });
  };
  const trackingOf = (r: { productName: string; version: string }) =>
    `${r.productName}-${r.version}-vex`.toLowerCase().replace(/[^a-z0-9.+_-]+/g, "-");
  app.get<{ Params: { id: string } }>(
    "/api/v1/releases/:id/csaf-vex",
    { config: { auth: { permission: "cra:read" } }, schema: { params: PRODUCT } },
    async (request) => vex(request),
  );
  // The canonical URL ends with the document's file name (CSAF 2.0 §6.2.11).
  app.get<{ Params: { id: string; file: string } }>(
    "/api/v1/releases/:id/csaf-vex/:file",
    {
      config: { auth: { permission: "cra:read" } },
      schema: {
        params: {
          type: "object",
          required: ["id", "file"],
          properties: { id: { type: "string", format: "uuid" }, file: { type: "string", maxLength: 200 } },
        },
      },
    },
    async (request) => vex(request),
  );

  const open = { config: { auth: { public: true as const }, rateLimit: PUBLIC_RATE } };

  // CSAF 2.0 §7.1.7 (requirement 7) and §7.1.20 (public OpenPGP keys).
  app.get(PROVIDER_METADATA, open, async () => {
    const provider = await csafProvider(store);
    if (!provider) throw new BulwarkError("BW_ERR_NOT_FOUND", "no CSAF advisory is published yet");
    const key = await csafPublicKey(store);
    const newest = (await listAdvisories(store))[0];
    return {
      canonical_url: url(PROVIDER_METADATA),
      distributions: [{ directory_url: url(WHITE_DIRECTORY) }],
      last_updated: new Date(Number(newest?.published_at ?? Date.now())).toISOString(),
      list_on_CSAF_aggregators: true,
      metadata_version: "2.0",
      mirror_on_CSAF_aggregators: true,
      public_openpgp_keys: key
        ? [{ fingerprint: key.fingerprint, url: url(`/.well-known/csaf/openpgp/${key.fingerprint}.asc`) }]
        : [],
      publisher: { category: "vendor", name: provider.name, namespace: provider.namespace },
      role: "csaf_trusted_provider",
    };
  });

  // Requirement 12: index.txt lists every document path relative to the directory.
  app.get(`${WHITE_DIRECTORY}index.txt`, open, async (_r, reply) => {
    reply.type("text/plain; charset=utf-8");
    return (await listAdvisories(store)).map((a) => `${pathOf(a)}\n`).join("");
  });

  // Requirement 13: changes.csv, "path","timestamp" newest first.
  app.get(`${WHITE_DIRECTORY}changes.csv`, open, async (_r, reply) => {
    reply.type("text/csv; charset=utf-8");
    return (await listAdvisories(store))
      .map((a) => `"${pathOf(a)}","${new Date(Number(a.published_at)).toISOString()}"\n`)
      .join("");
  });

  // Requirements 11, 18, 19: the document, its SHA-512 and its detached OpenPGP signature.
  app.get<{ Params: { year: string; file: string } }>(
    `${WHITE_DIRECTORY}:year/:file`,
    {
      ...open,
      schema: {
        params: {
          type: "object",
          required: ["year", "file"],
          properties: {
            year: { type: "string", pattern: "^[0-9]{4}$" },
            file: { type: "string", pattern: "^[+\\-a-z0-9_]+\\.json(\\.sha512|\\.asc)?$" },
          },
        },
      },
    },
    async (request, reply) => {
      const { year, file } = request.params;
      const base = file.replace(/\.(sha512|asc)$/, "");
      const advisory = (await listAdvisories(store)).find((a) => pathOf(a) === `${year}/${base}`);
      if (!advisory) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such CSAF document");
      if (file.endsWith(".sha512")) {
        reply.type("text/plain; charset=utf-8");
        return `${advisory.sha512}  ${base}\n`;
      }
      if (file.endsWith(".asc")) {
        if (!advisory.signature) throw new BulwarkError("BW_ERR_NOT_FOUND", "the document is not signed");
        reply.type("application/pgp-signature");
        return advisory.signature;
      }
      reply.type("application/json");
      return advisory.document;
    },
  );

  app.get<{ Params: { file: string } }>(
    "/.well-known/csaf/openpgp/:file",
    {
      ...open,
      schema: {
        params: {
          type: "object",
          required: ["file"],
          properties: { file: { type: "string", pattern: "^[0-9A-F]{40,64}\\.asc$" } },
        },
      },
    },
    async (request, reply) => {
      const key = await csafPublicKey(store);
      if (!key || `${key.fingerprint}.asc` !== request.params.file)
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such key");
      reply.type("application/pgp-keys");
      return key.armored;
    },
  );
}
