import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { groupByName } from "../fleet/groups.ts";
import type { Store } from "../store/store.ts";
import { audited, byOf } from "./audited.ts";
import { ANNEX_CATEGORIES, admissibleRoutes, CATEGORIES, CONFORMITY_ROUTES } from "./categories.ts";
import { productById } from "./product-source.ts";
import {
  coordinatorMemberState,
  HARMONISED_STANDARDS_CITED,
  MEMBER_STATES,
  type ProfileInput,
  profileOf,
  saveProfile,
} from "./profile.ts";
import {
  addRiskAssessment,
  RISK_ASSESSMENT_SCHEMA,
  type RiskAssessmentDocument,
  riskAssessmentVersions,
  riskDocumentProblem,
} from "./risk.ts";
import { linkedGroups, linkGroup, setSupportPeriod, supportPeriods, unlinkGroup } from "./support.ts";

const ID = { type: "string", format: "uuid" } as const;
const PRODUCT = { type: "object", required: ["id"], properties: { id: ID } } as const;
const TEXT = (max: number) => ({ type: "string", minLength: 1, maxLength: max }) as const;
const PARTY = {
  type: "object",
  additionalProperties: false,
  required: ["name", "address", "country", "email"],
  properties: {
    name: TEXT(200),
    address: TEXT(500),
    country: { type: "string", pattern: "^[A-Z]{2}$" },
    email: { type: "string", format: "email", maxLength: 254 },
    website: { type: "string", format: "uri", maxLength: 500 },
  },
} as const;
const NULLABLE_PARTY = { anyOf: [PARTY, { type: "null" }] } as const;

const PROFILE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: [
    "manufacturer",
    "intendedPurpose",
    "memberStates",
    "category",
    "categoryRationale",
    "conformityRoute",
  ],
  properties: {
    manufacturer: PARTY,
    representative: NULLABLE_PARTY,
    importer: NULLABLE_PARTY,
    intendedPurpose: TEXT(4000),
    memberStates: {
      type: "array",
      maxItems: 27,
      uniqueItems: true,
      items: { type: "string", enum: [...MEMBER_STATES] },
    },
    category: { type: "string", enum: [...CATEGORIES] },
    annexCategory: { type: ["string", "null"], maxLength: 300 },
    categoryRationale: TEXT(4000),
    conformityRoute: { type: "string", enum: [...CONFORMITY_ROUTES] },
    updateRepository: { type: ["string", "null"], format: "uri", maxLength: 500 },
  },
} as const;

async function needProduct(store: Store, id: string) {
  const product = await productById(store, id);
  if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
  return product;
}

/** Product CRA data (issue #16 item 1) and risk assessments (item 2). */
export async function productCraRoutes(app: FastifyInstance, store: Store): Promise<void> {
  app.get("/api/v1/cra/categories", { config: { auth: { permission: "cra:read" } } }, async () => ({
    categories: CATEGORIES.map((category) => ({
      category,
      annexCategories: ANNEX_CATEGORIES[category],
      conformityRoutes: admissibleRoutes(category, HARMONISED_STANDARDS_CITED),
    })),
    harmonisedStandardsCited: HARMONISED_STANDARDS_CITED,
  }));

  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/cra",
    { config: { auth: { permission: "cra:read", productParam: "id" } }, schema: { params: PRODUCT } },
    async (request) => {
      const product = await needProduct(store, request.params.id);
      const profile = (await profileOf(store, product.id)) ?? null;
      return {
        product,
        profile,
        coordinator: profile && coordinatorMemberState(profile),
        supportPeriods: await supportPeriods(store, product.id),
        groups: await linkedGroups(store, product.id),
      };
    },
  );

  app.put<{ Params: { id: string }; Body: ProfileInput }>(
    "/api/v1/products/:id/cra",
    {
      config: { auth: { permission: "cra:write", productParam: "id" } },
      schema: { params: PRODUCT, body: PROFILE_SCHEMA },
    },
    async (request) => {
      const product = await needProduct(store, request.params.id);
      const body = request.body;
      const input: ProfileInput = {
        ...body,
        representative: body.representative ?? null,
        importer: body.importer ?? null,
        annexCategory: body.annexCategory ?? null,
        updateRepository: body.updateRepository ?? null,
      };
      return audited(
        store,
        request,
        "cra.product-profile.update",
        { type: "product", id: product.id },
        (tx) => saveProfile(tx, product.id, input, byOf(request)),
        (p) => ({ category: p.category, annexCategory: p.annexCategory, conformityRoute: p.conformityRoute }),
      );
    },
  );

  app.put<{ Params: { id: string; version: string }; Body: { endsAt: string; justification?: string } }>(
    "/api/v1/products/:id/support-periods/:version",
    {
      config: { auth: { permission: "cra:write", productParam: "id" } },
      schema: {
        params: {
          type: "object",
          required: ["id", "version"],
          properties: { id: ID, version: { type: "string", minLength: 1, maxLength: 64 } },
        },
        body: {
          type: "object",
          additionalProperties: false,
          required: ["endsAt"],
          properties: { endsAt: { type: "string", format: "date" }, justification: TEXT(2000) },
        },
      },
    },
    async (request) => {
      const product = await needProduct(store, request.params.id);
      const endsAt = Date.parse(`${request.body.endsAt}T23:59:59Z`);
      await audited(
        store,
        request,
        "cra.support-period.set",
        { type: "product", id: product.id },
        (tx) =>
          setSupportPeriod(tx, product.id, {
            version: request.params.version,
            endsAt,
            justification: request.body.justification ?? null,
          }),
        () => ({ version: request.params.version, endsAt: request.body.endsAt }),
      );
      return { items: await supportPeriods(store, product.id) };
    },
  );

  const groupRoute = {
    type: "object",
    required: ["id", "name"],
    properties: { id: ID, name: TEXT(63) },
  } as const;
  app.put<{ Params: { id: string; name: string } }>(
    "/api/v1/products/:id/groups/:name",
    { config: { auth: { permission: "cra:write", productParam: "id" } }, schema: { params: groupRoute } },
    async (request) => {
      const product = await needProduct(store, request.params.id);
      const group = await groupByName(store, request.params.name);
      if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group ${request.params.name}`);
      await audited(
        store,
        request,
        "cra.product-group.link",
        { type: "product", id: product.id },
        (tx) => linkGroup(tx, product.id, group.id),
        () => ({ group: group.name }),
      );
      return { items: await linkedGroups(store, product.id) };
    },
  );

  app.delete<{ Params: { id: string; name: string } }>(
    "/api/v1/products/:id/groups/:name",
    { config: { auth: { permission: "cra:write", productParam: "id" } }, schema: { params: groupRoute } },
    async (request) => {
      const product = await needProduct(store, request.params.id);
      const group = await groupByName(store, request.params.name);
      if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group ${request.params.name}`);
      const removed = await audited(
        store,
        request,
        "cra.product-group.unlink",
        { type: "product", id: product.id },
        (tx) => unlinkGroup(tx, product.id, group.id),
        () => ({ group: group.name }),
      );
      if (!removed)
        throw new BulwarkError("BW_ERR_NOT_FOUND", `group ${group.name} is not linked to the product`);
      return { items: await linkedGroups(store, product.id) };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/risk-assessments",
    { config: { auth: { permission: "cra:read", productParam: "id" } }, schema: { params: PRODUCT } },
    async (request) => {
      const product = await needProduct(store, request.params.id);
      return { items: await riskAssessmentVersions(store, product.id) };
    },
  );

  app.post<{ Params: { id: string }; Body: RiskAssessmentDocument }>(
    "/api/v1/products/:id/risk-assessments",
    {
      config: { auth: { permission: "cra:write", productParam: "id" } },
      schema: { params: PRODUCT, body: RISK_ASSESSMENT_SCHEMA },
    },
    async (request, reply) => {
      const product = await needProduct(store, request.params.id);
      const problem = riskDocumentProblem(request.body);
      if (problem) throw new BulwarkError("BW_ERR_VALIDATION", problem);
      const created = await audited(
        store,
        request,
        "cra.risk-assessment.create",
        { type: "product", id: product.id },
        (tx) => addRiskAssessment(tx, product.id, request.body, byOf(request)),
        (r) => ({ version: r.version, sha256: r.sha256 }),
      );
      reply.code(201);
      return created;
    },
  );
}
