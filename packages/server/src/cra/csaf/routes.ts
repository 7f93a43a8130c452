import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import type { SecretBox } from "../../access/secret-box.ts";
import { actorOf } from "../../audit/actor.ts";
import { appendAudit } from "../../audit/audit-log.ts";
import { releaseFindings } from "../../software/findings.ts";
import type { Store } from "../../store/store.ts";
import { advisoryDocument, listAdvisories, listAdvisoryHeads } from "../advisory-store.ts";
import { byOf } from "../audited.ts";
import { releaseById } from "../product-source.ts";
import { profileOf } from "../profile.ts";
import {
  changesCsv,
  directoryListing,
  indexTxt,
  listingEntries,
  type Parsed,
  parseAdvisory,
  pathOf,
  providerMetadata,
  ROLIE_SERVICE,
  rolieCategories,
  rolieService,
  WHITE_CATEGORIES,
  WHITE_FEED,
  whiteFeed,
} from "./distribution.ts";
import { csafFileName, PROVIDER_METADATA, WHITE_DIRECTORY } from "./naming.ts";
import { csafPublicKey } from "./openpgp-key.ts";
import { csafProvider, cvssOf, publishAdvisory } from "./publish.ts";
import { CsafValidatorPool } from "./validator-pool.ts";
import { buildVex } from "./vex.ts";

const CSAF_DNS_PREFIX = "csaf.data.security.";
const PUBLIC_RATE = { max: 600, timeWindow: 60_000, groupId: "csaf-public" };
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
  const validator = new CsafValidatorPool();
  app.addHook("onClose", () => validator.close());

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
        validate: (text) => validator.validate(text),
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
        // CSAF 2.0 §6.2: the recommended-test findings kept at publication (null: published before).
        warnings: a.validation_warnings === null ? null : (JSON.parse(a.validation_warnings) as unknown[]),
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
  // Published documents never change: each is read and parsed once per process, and a public
  // request reads only the rows' heads (a listing never loads every document).
  const parsed = new Map<string, Parsed>();
  const published = async () =>
    Promise.all(
      (await listAdvisoryHeads(store)).map(async (head) => {
        let p = parsed.get(head.id);
        if (!p) {
          const document = await advisoryDocument(store, head.id);
          if (document === undefined) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such CSAF document");
          p = parseAdvisory(head, document);
          parsed.set(head.id, p);
        }
        return p;
      }),
    );
  const providerOrNotFound = async () => {
    const provider = await csafProvider(store);
    if (!provider) throw new BulwarkError("BW_ERR_NOT_FOUND", "no CSAF advisory is published yet");
    return provider;
  };

  // CSAF 2.0 §7.1.7, §7.1.9 (requirements 7 and 9) and §7.1.20 (public OpenPGP keys).
  const metadata = async () =>
    providerMetadata(
      deps.publicUrl(),
      await providerOrNotFound(),
      await published(),
      await csafPublicKey(store),
    );
  app.get(PROVIDER_METADATA, open, metadata);

  // Requirement 10: `https://csaf.data.security.DOMAIN` serves the provider metadata itself. Only
  // under that host name (a deployment points it at this listener, with a certificate naming it);
  // any other host has no route here.
  app.get("/", open, async (request) => {
    if (!request.hostname.toLowerCase().startsWith(CSAF_DNS_PREFIX))
      throw new BulwarkError("BW_ERR_ROUTE_NOT_FOUND");
    return metadata();
  });

  // Requirement 15: the TLP:WHITE ROLIE feed; 16: the service document; 17: the category document.
  app.get(WHITE_FEED, open, async () =>
    whiteFeed(deps.publicUrl(), await providerOrNotFound(), await published()),
  );
  app.get(ROLIE_SERVICE, open, async () => rolieService(deps.publicUrl(), await providerOrNotFound()));
  app.get(WHITE_CATEGORIES, open, async () => {
    await providerOrNotFound();
    return rolieCategories(await published());
  });

  // Requirement 12: index.txt lists every document path relative to the directory.
  app.get(`${WHITE_DIRECTORY}index.txt`, open, async (_r, reply) => {
    reply.type("text/plain; charset=utf-8");
    return indexTxt(await published());
  });

  // Requirement 13: changes.csv, "path","current_release_date" newest first.
  app.get(`${WHITE_DIRECTORY}changes.csv`, open, async (_r, reply) => {
    reply.type("text/csv; charset=utf-8");
    return changesCsv(await published());
  });

  // Requirement 14: directory listings of the TLP:WHITE directory and of each year folder.
  app.get(WHITE_DIRECTORY, open, async (_r, reply) => {
    reply.type("text/html; charset=utf-8");
    return directoryListing(WHITE_DIRECTORY, listingEntries(await published())!);
  });
  app.get<{ Params: { year: string } }>(
    `${WHITE_DIRECTORY}:year/`,
    {
      ...open,
      schema: {
        params: {
          type: "object",
          required: ["year"],
          properties: { year: { type: "string", pattern: "^[0-9]{4}$" } },
        },
      },
    },
    async (request, reply) => {
      const entries = listingEntries(await published(), request.params.year);
      if (!entries) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such year folder");
      reply.type("text/html; charset=utf-8");
      return directoryListing(`${WHITE_DIRECTORY}${request.params.year}/`, entries);
    },
  );

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
      const advisory = (await listAdvisoryHeads(store)).find((a) => pathOf(a) === `${year}/${base}`);
      if (!advisory) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such CSAF document");
      if (file.endsWith(".sha512")) {
        reply.type("text/plain; charset=utf-8");
        // Requirement 18: the file starts with the hex hash; the file name follows after spaces.
        return `${advisory.sha512}  ${base}\n`;
      }
      if (file.endsWith(".asc")) {
        if (!advisory.signature) throw new BulwarkError("BW_ERR_NOT_FOUND", "the document is not signed");
        reply.type("application/pgp-signature");
        return advisory.signature;
      }
      // csaf_checker requires exactly application/json for a CSAF document (RFC 8259 §11 defines no
      // charset parameter); a Buffer keeps Fastify from appending one. The bytes are the signed ones.
      const document = await advisoryDocument(store, advisory.id);
      if (document === undefined) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such CSAF document");
      reply.type("application/json");
      return Buffer.from(document, "utf8");
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
