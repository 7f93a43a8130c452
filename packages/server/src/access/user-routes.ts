import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { auditedChange } from "../audit/audited-change.ts";
import { productById } from "../cra/products.ts";
import { currentRateLimits, type RateLimitPolicy, saveRateLimits } from "../http/rate-limits.ts";
import type { Store } from "../store/store.ts";
import { assertCovers, assertMayConfer } from "./escalation.ts";
import { grantsOf } from "./grants.ts";
import { totpEnabled } from "./mfa.ts";
import { generatePassword } from "./password.ts";
import { isRole, ROLES, type Role } from "./permissions.ts";
import {
  addRoleAssignment,
  removeRoleAssignment,
  roleAssignmentById,
  roleAssignmentsOf,
} from "./role-assignments.ts";
import { createUser, listUsers, setGlobalRole, userById } from "./users.ts";

const ID = { type: "string", format: "uuid" } as const;
const ROLE_OR_NULL = { anyOf: [{ type: "string", enum: [...ROLES] }, { type: "null" }] } as const;

/** Users and their roles: global role plus product-scoped role assignments. */
export function userRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get("/api/v1/users", { config: { auth: { permission: "users:read" } } }, async () => {
      const users = await listUsers(store);
      return {
        items: await Promise.all(
          users.map(async (u) => ({
            ...u,
            totpEnabled: await totpEnabled(store, u.id),
            roleAssignments: await roleAssignmentsOf(store, u.id),
          })),
        ),
      };
    });

    // A new account gets a one-time password, shown once, that must be changed at first sign-in.
    app.post<{ Body: { username: string; role: Role | null } }>(
      "/api/v1/users",
      {
        config: { auth: { permission: "users:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["username", "role"],
            properties: {
              username: { type: "string", pattern: "^[a-z0-9][a-z0-9._-]{1,62}$" },
              role: ROLE_OR_NULL,
            },
          },
        },
      },
      async (request, reply) => {
        if (request.body.role) assertMayConfer(request.principal!.grants, request.body.role);
        const password = generatePassword();
        const user = await auditedChange(
          store,
          request,
          (tx) => createUser(tx, { ...request.body, password, mustChangePassword: true }),
          (created) => ({
            action: "user.create",
            target: { type: "user", id: created.id },
            details: { username: created.username, role: created.role },
          }),
        );
        reply.code(201);
        return { ...user, oneTimePassword: password };
      },
    );

    app.put<{ Params: { id: string }; Body: { role: Role | null } }>(
      "/api/v1/users/:id/role",
      {
        config: { auth: { permission: "roles:manage" } },
        schema: {
          params: { type: "object", properties: { id: ID } },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["role"],
            properties: { role: ROLE_OR_NULL },
          },
        },
      },
      async (request) => {
        const grants = request.principal!.grants;
        if (request.body.role) assertMayConfer(grants, request.body.role);
        await auditedChange(
          store,
          request,
          async (tx) => {
            const before = await userById(tx, request.params.id);
            if (!before) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such user");
            // Nobody changes the role of a user who holds more than they do (no demoting an admin).
            assertCovers(grants, await grantsOf(tx, before), "changing this user's role");
            await setGlobalRole(tx, request.params.id, request.body.role);
            return before;
          },
          (before) => ({
            action: "role.change",
            target: { type: "user", id: request.params.id },
            details: { before: before.role, after: request.body.role },
          }),
        );
        const user = (await userById(store, request.params.id))!;
        return {
          ...user,
          grants: (await grantsOf(store, user)).map((g) => ({ role: g.role, productId: g.productId })),
        };
      },
    );

    app.post<{ Params: { id: string }; Body: { role: Role; productId: string } }>(
      "/api/v1/users/:id/role-assignments",
      {
        config: { auth: { permission: "roles:manage" } },
        schema: {
          params: { type: "object", properties: { id: ID } },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["role", "productId"],
            properties: { role: { type: "string", enum: [...ROLES] }, productId: ID },
          },
        },
      },
      async (request, reply) => {
        assertMayConfer(request.principal!.grants, request.body.role, request.body.productId);
        const id = randomUUID();
        const { role, productId } = request.body;
        await auditedChange(
          store,
          request,
          async (tx) => {
            if (!(await userById(tx, request.params.id)))
              throw new BulwarkError("BW_ERR_NOT_FOUND", "no such user");
            if (!(await productById(tx, productId)))
              throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
            const createdBy = request.principal!.user.id;
            await addRoleAssignment(tx, { id, userId: request.params.id, role, productId, createdBy });
          },
          {
            action: "role.assign",
            target: { type: "user", id: request.params.id },
            details: { assignment: id, role, productId },
          },
        );
        reply.code(201);
        return { id, userId: request.params.id, role: request.body.role, productId: request.body.productId };
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/api/v1/role-assignments/:id",
      {
        config: { auth: { permission: "roles:manage" } },
        schema: { params: { type: "object", properties: { id: ID } } },
      },
      async (request, reply) => {
        const { id } = request.params;
        await auditedChange(
          store,
          request,
          async (tx) => {
            const assignment = await roleAssignmentById(tx, id);
            if (!assignment) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such role assignment");
            // Only an assignment the caller could have made may be removed by it.
            if (isRole(assignment.role))
              assertMayConfer(request.principal!.grants, assignment.role, assignment.product_id ?? undefined);
            if (!(await removeRoleAssignment(tx, id)))
              throw new BulwarkError("BW_ERR_NOT_FOUND", "no such role assignment");
          },
          { action: "role.unassign", target: { type: "role-assignment", id } },
        );
        reply.code(204);
      },
    );

    app.get("/api/v1/policies/rate-limits", { config: { auth: { permission: "users:read" } } }, async () =>
      currentRateLimits(),
    );

    app.put<{ Body: Partial<RateLimitPolicy> }>(
      "/api/v1/policies/rate-limits",
      {
        config: { auth: { permission: "auth-settings:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            minProperties: 1,
            properties: Object.fromEntries(
              ["signIn", "secondFactor", "enrolment", "public", "authenticated"].map((k) => [
                k,
                { type: "integer", minimum: 1, maximum: 1_000_000 },
              ]),
            ),
          },
        },
      },
      async (request) => {
        const change = await auditedChange(
          store,
          request,
          async (tx) => ({ before: currentRateLimits(), after: await saveRateLimits(tx, request.body) }),
          (details) => ({
            action: "policy.rate-limits-change",
            target: { type: "policy", id: "rate-limits" },
            details,
          }),
        );
        return change.after;
      },
    );
  };
}
