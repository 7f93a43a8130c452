import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import { generatePassword, hashPassword, passwordProblem, verifyPassword } from "./password.ts";
import type { Role } from "./permissions.ts";

export interface User {
  id: string;
  username: string;
  role: Role;
  mustChangePassword: boolean;
}

interface UserRow {
  id: string;
  username: string;
  role: Role;
  password_hash: string;
  must_change_password: number;
}

const toUser = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  role: row.role,
  mustChangePassword: Number(row.must_change_password) === 1,
});

export async function createUser(
  db: Queryable,
  options: { username: string; password: string; role: Role; mustChangePassword: boolean },
): Promise<User> {
  const now = Date.now();
  const id = randomUUID();
  await db.run(
    `INSERT INTO users (id, username, password_hash, role, must_change_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      options.username,
      await hashPassword(options.password),
      options.role,
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
