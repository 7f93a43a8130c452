import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import { generatePassword, hashPassword, passwordProblem, verifyPassword } from "./password.ts";
import { isRole, type Role } from "./permissions.ts";

export interface User {
  id: string;
  username: string;
  /** The global role; null for a user who only holds product-scoped role assignments. */
  role: Role | null;
  mustChangePassword: boolean;
}

interface UserRow {
  id: string;
  username: string;
  role: string;
  password_hash: string;
  must_change_password: number;
}

// Stored in users.role when a user has no global role (the column is NOT NULL).
const NO_ROLE = "none";

const toUser = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  role: isRole(row.role) ? row.role : null,
  mustChangePassword: Number(row.must_change_password) === 1,
});

export async function createUser(
  db: Queryable,
  options: { username: string; password: string; role: Role | null; mustChangePassword: boolean },
): Promise<User> {
  const now = Date.now();
  const id = randomUUID();
  if (await db.get(`SELECT id FROM users WHERE username = ?`, [options.username]))
    throw new BulwarkError("BW_ERR_CONFLICT", `a user named ${options.username} exists`);
  await db.run(
    `INSERT INTO users (id, username, password_hash, role, must_change_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      options.username,
      await hashPassword(options.password),
      options.role ?? NO_ROLE,
      options.mustChangePassword ? 1 : 0,
      now,
      now,
    ],
  );
  return {
    id,
    username: options.username,
    role: options.role,
    mustChangePassword: options.mustChangePassword,
  };
}

/** First start: an `admin` with a random one-time password that must be changed on first use. */
export async function createFirstAdmin(db: Queryable): Promise<{ user: User; password: string }> {
  const password = generatePassword();
  const user = await createUser(db, { username: "admin", password, role: "admin", mustChangePassword: true });
  return { user, password };
}

export async function userById(db: Queryable, id: string): Promise<User | undefined> {
  const row = await db.get<UserRow>(`SELECT * FROM users WHERE id = ?`, [id]);
  return row && toUser(row);
}

// A fixed hash to verify against for unknown users, so that timing does not reveal which names exist.
let decoyHash: Promise<string> | undefined;

export async function checkPassword(
  db: Queryable,
  username: string,
  password: string,
): Promise<User | undefined> {
  const row = await db.get<UserRow>(`SELECT * FROM users WHERE username = ?`, [username]);
  decoyHash ??= hashPassword(generatePassword());
  const ok = await verifyPassword(password, row?.password_hash ?? (await decoyHash));
  return row && ok ? toUser(row) : undefined;
}

export async function changePassword(db: Queryable, user: User, newPassword: string): Promise<void> {
  const problem = passwordProblem(newPassword, user.username);
  if (problem) throw new BulwarkError("BW_ERR_VALIDATION", problem);
  await db.run(`UPDATE users SET password_hash = ?, must_change_password = 0, updated_at = ? WHERE id = ?`, [
    await hashPassword(newPassword),
    Date.now(),
    user.id,
  ]);
}

export async function listUsers(db: Queryable): Promise<User[]> {
  return (await db.all<UserRow>(`SELECT * FROM users ORDER BY username`)).map(toUser);
}

export async function setGlobalRole(db: Queryable, userId: string, role: Role | null): Promise<void> {
  const { changes } = await db.run(`UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, [
    role ?? NO_ROLE,
    Date.now(),
    userId,
  ]);
  if (changes !== 1) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such user");
}

/**
 * The local account of an OpenID Connect subject, created on first sign-in and given the mapped
 * role on every sign-in (the provider's groups are the source of truth). It has no usable password.
 */
export async function upsertOidcUser(
  db: Queryable,
  options: { subject: string; username: string; role: Role },
): Promise<User> {
  const row = await db.get<UserRow>(`SELECT * FROM users WHERE oidc_subject = ?`, [options.subject]);
  if (row) {
    await setGlobalRole(db, row.id, options.role);
    return { ...toUser(row), role: options.role };
  }
  const taken = await db.get(`SELECT id FROM users WHERE username = ?`, [options.username]);
  const username = taken ? `${options.username}@oidc-${options.subject.slice(0, 12)}` : options.username;
  const user = await createUser(db, {
    username,
    password: generatePassword(),
    role: options.role,
    mustChangePassword: false,
  });
  await db.run(`UPDATE users SET oidc_subject = ?, password_hash = ? WHERE id = ?`, [
    options.subject,
    "!oidc",
    user.id,
  ]);
  return user;
}
