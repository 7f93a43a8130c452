import { argon2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const argon2Async = promisify(argon2);

// OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
const PARAMS = { memory: 19456, passes: 2, parallelism: 1, tagLength: 32 };

/** argon2id (RFC 9106) in PHC string format. */
export async function hashPassword(password: string): Promise<string> {
  const nonce = randomBytes(16);
  const tag = await argon2Async("argon2id", { message: password, nonce, ...PARAMS });
  return `$argon2id$v=19$m=${PARAMS.memory},t=${PARAMS.passes},p=${PARAMS.parallelism}$${nonce.toString("base64url")}$${tag.toString("base64url")}`;
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (!m) return false;
  const expected = Buffer.from(m[5]!, "base64url");
  const tag = await argon2Async("argon2id", {
    message: password,
    nonce: Buffer.from(m[4]!, "base64url"),
    memory: Number(m[1]),
    passes: Number(m[2]),
    parallelism: Number(m[3]),
    tagLength: expected.length,
  });
  return timingSafeEqual(tag, expected);
}

/** A password policy in the spirit of NIST SP 800-63B §5.1.1.2: length over composition rules. */
export function passwordProblem(password: string, username: string): string | undefined {
  if (password.length < 12) return "passwords must be at least 12 characters";
  if (password.length > 256) return "passwords must be at most 256 characters";
  if (password.toLowerCase().includes(username.toLowerCase()))
    return "the password must not contain the username";
  if (new Set(password).size < 5) return "the password is too repetitive";
  return undefined;
}

/** A random password for first-run accounts: 24 characters base64url (144 bits). */
export const generatePassword = (): string => randomBytes(18).toString("base64url");
