import { Readable } from "node:stream";
import type { ChainProblem, ExportLine } from "@bulwark/sdk/audit/chain";
import type { FastifyInstance } from "fastify";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";
import { auditHead, listAudit, verifiedPoint, verifyAuditChainFull } from "./audit-log.ts";
import { auditedAction, auditedChange } from "./audited-change.ts";
import {
  auditAnchor,
  type CheckpointSigner,
  createCheckpoint,
  listCheckpoints,
  signCheckpoint,
} from "./checkpoints.ts";
import { notify } from "./notifications.ts";
import { pruneAudit, retentionDays, setRetentionDays } from "./retention.ts";

export interface AuditRouteDeps {
  store: Store;
  custody: KeyCustody;
  signer: CheckpointSigner;
}

/**
 * JSON lines: a header (format and anchor), every entry from the anchor to the head read at the
 * start, every stored checkpoint, and a checkpoint of that head signed now, so an offline
 * verifier also detects entries cut from the end.
 */
async function* exportLines(deps: AuditRouteDeps): AsyncGenerator<string> {
  const head = await auditHead(deps.store);
  const anchor = await auditAnchor(deps.store);
  const line = (value: ExportLine) => `${JSON.stringify(value)}\n`;
  yield line({ type: "header", format: "bulwark-audit-v1", anchor, exportedAt: new Date().toISOString() });
  for (let afterSeq = anchor?.seq ?? 0; afterSeq < head.seq; ) {
    const page = await listAudit(deps.store, { afterSeq, limit: 1000 });
    if (page.length === 0) break;
    for (const entry of page) if (entry.seq <= head.seq) yield line({ type: "entry", ...entry });
    afterSeq = page[page.length - 1]!.seq;
  }
  const stored = await listCheckpoints(deps.store);
  for (const checkpoint of stored)
    if (checkpoint.seq <= head.seq) yield line({ type: "checkpoint", ...checkpoint });
  if (head.seq > 0 && !stored.some((c) => c.seq === head.seq))
    yield line({ type: "checkpoint", ...(await signCheckpoint(deps.custody, deps.signer, head)) });
}

export function auditRoutes(deps: AuditRouteDeps) {
  const { store } = deps;
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { afterSeq?: number; limit?: number } }>(
      "/api/v1/audit",
      {
        config: { auth: { permission: "audit:read" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              afterSeq: { type: "integer", minimum: 0 },
              limit: { type: "integer", minimum: 1, maximum: 1000 },
            },
          },
        },
      },
      async (request) => {
        const items = await listAudit(store, {
          afterSeq: request.query.afterSeq,
          limit: request.query.limit ?? 100,
        });
        return { items, head: await auditHead(store) };
      },
    );

    app.get(
      "/api/v1/audit/export",
      { config: { auth: { permission: "audit:read" } } },
      async (request, reply) => {
        await auditedAction(store, request, { action: "audit.export" });
        reply
          .type("application/jsonl")
          .header("content-disposition", 'attachment; filename="bulwark-audit.jsonl"');
        return reply.send(Readable.from(exportLines(deps)));
      },
    );

    // Always a full verification (every entry, with the checkpoint signatures); it also renews the
    // verified point the Annex I matrix verifies from (issue #16).
    app.get("/api/v1/audit/verify", { config: { auth: { permission: "audit:read" } } }, async () => {
      const {
        mode: _mode,
        fullAt: _fullAt,
        ...result
      } = await verifyAuditChainFull(store, deps.signer.publicKey);
      if (result.problem) await reportBroken(store, result.problem);
      return { ok: !result.problem, ...result };
    });

    app.get(
      "/api/v1/audit/checkpoint-key",
      { config: { auth: { permission: "audit:read" } } },
      async (_r, reply) => {
        reply.type("application/x-pem-file");
        return deps.signer.publicKeyPem;
      },
    );

    app.get("/api/v1/audit/checkpoints", { config: { auth: { permission: "audit:read" } } }, async () => ({
      items: await listCheckpoints(store),
    }));

    app.post(
      "/api/v1/audit/checkpoints",
      { config: { auth: { permission: "audit:manage" } } },
      async (_r, reply) => {
        const checkpoint = await createCheckpoint(store, deps.custody, deps.signer);
        reply.code(checkpoint ? 201 : 200);
        return checkpoint ?? { seq: (await auditHead(store)).seq, unchanged: true };
      },
    );

    app.get("/api/v1/audit/retention", { config: { auth: { permission: "audit:read" } } }, async () => ({
      days: await retentionDays(store),
      anchor: await auditAnchor(store),
    }));

    app.put<{ Body: { days: number | null } }>(
      "/api/v1/audit/retention",
      {
        config: { auth: { permission: "audit:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["days"],
            properties: {
              days: { anyOf: [{ type: "integer", minimum: 1, maximum: 36500 }, { type: "null" }] },
            },
          },
        },
      },
      async (request) => {
        const after = request.body.days;
        await auditedChange(
          store,
          request,
          async (tx) => {
            const before = await retentionDays(tx);
            await setRetentionDays(tx, after);
            return before;
          },
          (before) => ({
            action: "policy.audit-retention-change",
            target: { type: "policy", id: "audit-retention" },
            details: { before, after },
          }),
        );
        return { days: request.body.days };
      },
    );

    app.post("/api/v1/audit/prune", { config: { auth: { permission: "audit:manage" } } }, async () =>
      pruneAudit(store),
    );
  };
}

/** How often the maintenance walks the whole chain (the matrix then verifies only what is newer). */
export const FULL_VERIFICATION_EVERY_MS = 3600 * 1000;

/**
 * Periodic signed checkpoints, retention pruning and, once an hour, a full verification of the
 * chain (a broken chain raises the same critical notification as `GET /api/v1/audit/verify`);
 * returns a stop function.
 */
export function startAuditMaintenance(
  deps: AuditRouteDeps & { intervalMs: number; onError: (error: unknown) => void },
): () => void {
  const tick = async () => {
    await createCheckpoint(deps.store, deps.custody, deps.signer);
    await pruneAudit(deps.store);
    const point = await verifiedPoint(deps.store);
    if (!point || Date.now() - point.fullAt >= FULL_VERIFICATION_EVERY_MS) {
      const result = await verifyAuditChainFull(deps.store, deps.signer.publicKey);
      if (result.problem) await reportBroken(deps.store, result.problem);
    }
  };
  const timer = setInterval(() => tick().catch(deps.onError), deps.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function reportBroken(store: Store, problem: ChainProblem): Promise<void> {
  await store.transaction((tx) =>
    notify(tx, {
      kind: "audit-chain-broken",
      severity: "critical",
      message: `the audit log fails verification at entry ${problem.seq} (${problem.problem})`,
      details: { ...problem },
    }),
  );
}
