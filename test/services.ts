import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import type { TestContext } from "node:test";
import pg from "pg";

/**
 * The external services some tests need (PostgreSQL, Redis on 127.0.0.1). Without them a test
 * skips with the reason printed, unless BULWARK_REQUIRE_SERVICES=1 (CI), where it fails.
 */
export const DATABASE_URL =
  process.env.BULWARK_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.BULWARK_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const required = () => process.env.BULWARK_REQUIRE_SERVICES === "1";

async function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** True when the services are there; otherwise skips `t` with a printed reason (or throws in CI). */
export async function needServices(t: TestContext, which: ("postgres" | "redis")[]): Promise<boolean> {
  for (const service of which) {
    const url = service === "postgres" ? DATABASE_URL : REDIS_URL;
    if (await reachable(url)) continue;
    const reason = `${service} is not reachable at ${new URL(url).host}`;
    if (required()) throw new Error(`${reason} (BULWARK_REQUIRE_SERVICES=1)`);
    process.stdout.write(`# skipped: ${reason}\n`);
    t.skip(reason);
    return false;
  }
  return true;
}

/** A fresh, uniquely named schema for one test run; `drop()` removes it and everything in it. */
export function freshSchema(): { name: string; url: string; create(): Promise<void>; drop(): Promise<void> } {
  const name = `bw_test_${randomBytes(6).toString("hex")}`;
  const url = new URL(DATABASE_URL);
  // libpq-style startup options: every connection of the server under test uses this schema.
  url.searchParams.set("options", `-c search_path=${name}`);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    name,
    url: url.href,
    create: () => admin(`CREATE SCHEMA "${name}"`),
    drop: () => admin(`DROP SCHEMA IF EXISTS "${name}" CASCADE`),
  };
}
