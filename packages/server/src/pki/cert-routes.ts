import { BulwarkError } from "@bulwark/sdk/errors";
import { toPem } from "@bulwark/sdk/pem";
import { isRevocationReason, REVOCATION_REASONS, type RevocationReason } from "@bulwark/sdk/x509/crl";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import type { Queryable } from "../store/store.ts";
import { type RevocationContext, revokeCertificate } from "./revocation.ts";
import { storedDer } from "./stored-certificate.ts";

interface CertificateRow {
  serial: string;
  ca_id: string;
  ca_name: string;
  device_id: string | null;
  subject: string;
  fingerprint: string;
  not_before: number;
  not_after: number;
  status: string;
  revoked_at: number | null;
  revocation_reason: string | null;
  der: Uint8Array;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

const toCertificate = (row: CertificateRow, withPem = false) => ({
  serial: row.serial,
  ca: { id: row.ca_id, name: row.ca_name },
  deviceId: row.device_id,
  subject: row.subject,
  fingerprint: row.fingerprint,
  notBefore: iso(row.not_before),
  notAfter: iso(row.not_after),
  status: row.status,
  revokedAt: iso(row.revoked_at),
  revocationReason: row.revocation_reason,
  ...(withPem ? { pem: toPem("CERTIFICATE", storedDer(row.der)) } : {}),
});

const SELECT = `SELECT c.*, a.name AS ca_name FROM certificates c JOIN cas a ON a.id = c.ca_id`;
const SERIAL = { type: "string", pattern: "^[0-9a-fA-F]{2,40}$" } as const;

async function listCertificates(
  db: Queryable,
  q: { device?: string; status?: string; limit: number; offset: number },
) {
  const where: string[] = [];
  const params: (string | number)[] = [];
  for (const [column, value] of [
    ["c.device_id", q.device],
    ["c.status", q.status],
  ] as const) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  const clause = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const rows = await db.all<CertificateRow>(
    `${SELECT}${clause} ORDER BY c.created_at, c.serial LIMIT ? OFFSET ?`,
    [...params, q.limit, q.offset],
  );
  return rows.map((r) => toCertificate(r));
}

/** Certificates: list, show, revoke (RFC 5280 §5.3.1 reasons). */
export function certificateRoutes(ctx: RevocationContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { device?: string; status?: string; limit?: number; offset?: number } }>(
      "/api/v1/certificates",
      {
        config: { auth: { permission: "certificates:read" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              device: { type: "string", format: "uuid" },
              status: { type: "string", enum: ["valid", "revoked"] },
              limit: { type: "integer", minimum: 1, maximum: 1000 },
              offset: { type: "integer", minimum: 0 },
            },
          },
        },
      },
      async (request) => ({
        items: await listCertificates(ctx.store, {
          ...request.query,
          limit: request.query.limit ?? 100,
          offset: request.query.offset ?? 0,
        }),
      }),
    );

    app.get<{ Params: { serial: string } }>(
      "/api/v1/certificates/:serial",
      {
        config: { auth: { permission: "certificates:read" } },
        schema: { params: { type: "object", required: ["serial"], properties: { serial: SERIAL } } },
      },
      async (request) => {
        const row = await ctx.store.get<CertificateRow>(`${SELECT} WHERE c.serial = ?`, [
          request.params.serial.toLowerCase(),
        ]);
        if (!row) throw new BulwarkError("BW_ERR_CERTIFICATE_NOT_FOUND");
        return toCertificate(row, true);
      },
    );

    app.post<{ Params: { serial: string }; Body: { reason: RevocationReason } }>(
      "/api/v1/certificates/:serial/revoke",
      {
        config: { auth: { permission: "certificates:revoke" } },
        schema: {
          params: { type: "object", required: ["serial"], properties: { serial: SERIAL } },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["reason"],
            properties: { reason: { type: "string", enum: Object.keys(REVOCATION_REASONS) } },
          },
        },
      },
      async (request) => {
        if (!isRevocationReason(request.body.reason))
          throw new BulwarkError("BW_ERR_VALIDATION", "unknown reason");
        const revoked = await revokeCertificate(
          ctx,
          request.params.serial.toLowerCase(),
          request.body.reason,
          actorOf(request.principal),
        );
        request.log.info({ serial: revoked.serial, reason: revoked.reason }, "certificate revoked");
        return revoked;
      },
    );
  };
}
