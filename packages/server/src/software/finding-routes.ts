import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { releaseById } from "../products/products.ts";
import type { Store } from "../store/store.ts";
import { type FindingStatus, findingById, listFindings, releaseFindings, setTriage } from "./findings.ts";
import {
  CYCLONEDX_JUSTIFICATIONS,
  OPENVEX_JUSTIFICATIONS,
  parseTriage,
  TRIAGE_STATES,
  type TriageState,
} from "./triage.ts";
import { cycloneDxVex, openVexDocument } from "./vex.ts";

interface FindingQuery {
  release?: string;
  status?: FindingStatus;
  knownExploited?: boolean;
  article14Candidate?: boolean;
  triage?: TriageState;
  limit?: number;
  offset?: number;
}

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
};

const LIST_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    release: { type: "string", format: "uuid" },
    status: { type: "string", enum: ["open", "resolved"] },
    knownExploited: { type: "boolean" },
    article14Candidate: { type: "boolean" },
    triage: { type: "string", enum: [...TRIAGE_STATES] },
    limit: { type: "integer", minimum: 1, maximum: 1000 },
    offset: { type: "integer", minimum: 0 },
  },
};

export function findingRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const list = async (q: FindingQuery, article14?: boolean) => {
      const page = await listFindings(store, {
        releaseId: q.release,
        status: q.status,
        knownExploited: q.knownExploited,
        article14Candidate: article14 ?? q.article14Candidate,
        triageState: q.triage,
        limit: q.limit ?? 100,
        offset: q.offset ?? 0,
      });
      return { ...page, limit: q.limit ?? 100, offset: q.offset ?? 0 };
    };

    app.get<{ Querystring: FindingQuery }>(
      "/api/v1/findings",
      { config: { auth: { permission: "findings:read" } }, schema: { querystring: LIST_QUERY } },
      async (request) => list(request.query),
    );

    // CRA Art. 14(1): actively exploited vulnerabilities in products are notification candidates.
    app.get<{ Querystring: FindingQuery }>(
      "/api/v1/cra/article14-candidates",
      { config: { auth: { permission: "findings:read" } }, schema: { querystring: LIST_QUERY } },
      async (request) => list({ ...request.query, status: request.query.status ?? "open" }, true),
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/findings/:id",
      { config: { auth: { permission: "findings:read" } }, schema: { params: ID_PARAMS } },
      async (request) => {
        const finding = await findingById(store, request.params.id);
        if (!finding) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such finding");
        return finding;
      },
    );

    app.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
      "/api/v1/findings/:id/triage",
      {
        config: { auth: { permission: "findings:triage" } },
        schema: {
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["state"],
            properties: {
              state: { type: "string", enum: [...TRIAGE_STATES] },
              justification: {
                type: "string",
                enum: [...OPENVEX_JUSTIFICATIONS, ...CYCLONEDX_JUSTIFICATIONS],
              },
              impactStatement: { type: "string", minLength: 1, maxLength: 4000 },
              actionStatement: { type: "string", minLength: 1, maxLength: 4000 },
              detail: { type: "string", minLength: 1, maxLength: 4000 },
            },
          },
        },
      },
      async (request) => {
        const triage = parseTriage(request.body);
        await store.transaction((tx) =>
          setTriage(tx, request.params.id, triage, actorOf(request.principal), "manual"),
        );
        return findingById(store, request.params.id);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { format?: "openvex" | "cyclonedx" } }>(
      "/api/v1/releases/:id/vex",
      {
        config: { auth: { permission: "findings:read" } },
        schema: {
          params: ID_PARAMS,
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { format: { type: "string", enum: ["openvex", "cyclonedx"] } },
          },
        },
      },
      async (request, reply) => {
        const release = await releaseById(store, request.params.id);
        if (!release) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
        const findings = await releaseFindings(store, release.id);
        if (request.query.format === "cyclonedx") {
          reply.type("application/vnd.cyclonedx+json");
          return cycloneDxVex(release, findings);
        }
        reply.type("application/json");
        return openVexDocument(
          release,
          findings,
          `Bulwark (${request.principal?.user.username ?? "unknown"})`,
        );
      },
    );
  };
}
