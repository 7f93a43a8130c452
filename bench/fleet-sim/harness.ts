import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { FileKeyCustody } from "../../packages/server/src/custody/file-key-custody.ts";
import { loadMasterKey } from "../../packages/server/src/custody/master-key.ts";
import { byRole, listCas } from "../../packages/server/src/pki/ca.ts";
import { storedCertificate } from "../../packages/server/src/pki/stored-certificate.ts";
import { PostgresStore } from "../../packages/server/src/store/postgres.ts";
import { SqliteStore } from "../../packages/server/src/store/sqlite.ts";
import type { Store } from "../../packages/server/src/store/store.ts";
import { issueSimDevices } from "./identities.ts";
import { type ServerProcess, startServerProcess } from "./processes.ts";

const DATABASE_URL = process.env.BULWARK_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.BULWARK_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface BenchSetup {
  dir: string;
  servers: ServerProcess[];
  /** The server command line's arguments (to start a process again on the same data). */
  args: string[];
  rootPem: string;
  adminKey: string;
  /** The issued device identities (JSON lines). */
  file: string;
  /** Opens the servers' store (the scale-out schema, or the SQLite file) to read what they stored. */
  openStore(): Promise<Store>;
  /** The server's own TLS identity, for the peer broker. */
  serverIdentity: { keyPem: string; certChainPem: string };
  /** An operator API call with the bootstrap admin key; a Buffer body goes as octet-stream, others as JSON. */
  api(
    server: ServerProcess,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }>;
  cleanup(): Promise<void>;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Starts `processes` real server processes (one: embedded SQLite; two: scale-out over a fresh
 * PostgreSQL schema and Redis) on a temporary data dir, and issues `devices` identities.
 */
export async function setUpBench(options: {
  devices: number;
  processes: number;
  /** Fixed listener ports (one process only), so that a restarted server listens where it did. */
  ports?: { http: number; mqtt: number };
  /** Runs on the server's store once the identities are issued (e.g. to set the devices' product). */
  afterIssue?: (store: Store, file: string) => Promise<void>;
  /** PostgreSQL and Redis for several processes (default: BULWARK_BENCH_DATABASE_URL / _REDIS_URL). */
  databaseUrl?: string;
  redisUrl?: string;
  /** Extra environment of the server processes (e.g. BULWARK_HEARTBEAT_MS). */
  serverEnv?: Record<string, string>;
}): Promise<BenchSetup> {
  const databaseUrl = options.databaseUrl ?? DATABASE_URL;
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
  const dataDir = join(dir, "data");
  const keyFile = join(dir, "admin.key");
  process.env.BULWARK_MASTER_KEY ??= randomBytes(32).toString("hex");
  const schema = `bw_bench_${randomBytes(6).toString("hex")}`;
  const scaled = options.processes > 1;
  const dbUrl = new URL(databaseUrl);
  dbUrl.searchParams.set("options", `-c search_path=${schema}`);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  if (scaled) await admin(`CREATE SCHEMA "${schema}"`);
  const args = [
    "--data",
    dataDir,
    "--http-port",
    String(options.ports?.http ?? 0),
    "--mqtt-port",
    String(options.ports?.mqtt ?? 0),
    "--bootstrap-admin-key-file",
    keyFile,
    ...(scaled ? ["--store", "postgres", "--database-url", dbUrl.href] : []),
    // Its own Redis prefix: another deployment (a test, a bench) may share the Redis.
    ...(scaled ? ["--redis-url", options.redisUrl ?? REDIS_URL, "--redis-prefix", `${schema}:`] : []),
  ];
  // Started together, as the README allows: one bootstraps the shared store, the others wait for it.
  const servers: ServerProcess[] = await Promise.all(
    Array.from({ length: options.processes }, () => startServerProcess(args, options.serverEnv)),
  );
  const openStore = async (): Promise<Store> =>
    scaled
      ? await PostgresStore.open({ url: databaseUrl, schema })
      : new SqliteStore(join(dataDir, "bulwark.db"));
  const store = await openStore();
  const file = join(dir, "devices.jsonl");
  const started = Date.now();
  await issueSimDevices({
    store,
    dataDir,
    publicUrl: servers[0]!.httpUrl,
    count: options.devices,
    file,
    onProgress: (n) => {
      if (n % 5000 === 0) log(`  issued ${n} device identities`);
    },
  });
  log(`issued ${options.devices} device identities in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await options.afterIssue?.(store, file);
  const serverIdentity = await loadServerIdentity(store, dataDir);
  await store.close();
  const rootPem = readFileSync(join(dataDir, "root-ca.pem"), "utf8");
  const adminKey = readFileSync(keyFile, "utf8").trim();
  return {
    dir,
    servers,
    args,
    rootPem,
    adminKey,
    file,
    serverIdentity,
    openStore,
    async api(server, method, path, body) {
      const res = await httpsRequest({
        url: new URL(path, server.httpUrl).href,
        method,
        ca: rootPem,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body === undefined
            ? {}
            : { "content-type": Buffer.isBuffer(body) ? "application/octet-stream" : "application/json" }),
        },
        body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
      });
      const text = res.body.toString("utf8");
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async cleanup() {
      for (const server of servers) await server.stop();
      if (scaled) await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function loadServerIdentity(store: Store, dataDir: string) {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = 'tls.server'`);
  const stored = JSON.parse(row!.value) as { keyId: string; serial: string };
  const cert = await storedCertificate(store, stored.serial);
  const master = loadMasterKey(dataDir, process.env.BULWARK_MASTER_KEY);
  const custody = new FileKeyCustody({ dir: join(dataDir, "keys"), masterKey: master.key });
  const service = byRole(await listCas(store), "service");
  return { keyPem: await custody.exportPrivateKeyPem(stored.keyId), certChainPem: cert!.pem + service.pem };
}

export function intArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
  return n;
}

/** An operator API call that throws unless it answers 200 or 201. */
export type ApiCall = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** A product with release 1.0.0 whose one binary artifact is `image`, published (the bench and its tests). */
export async function publishImageRelease(
  call: ApiCall,
  product: string,
  image: Buffer,
  name = "image.bin",
): Promise<{ productId: string; releaseId: string }> {
  const productId = (await call("POST", "/api/v1/products", { name: product })).id as string;
  const releaseId = (
    await call("POST", `/api/v1/products/${productId}/releases`, {
      version: "1.0.0",
      classification: "feature",
    })
  ).id as string;
  await call("POST", `/api/v1/releases/${releaseId}/artifacts?name=${name}&kind=binary`, image);
  await call("PUT", `/api/v1/releases/${releaseId}/update`, { hardware: [] });
  await call("POST", `/api/v1/releases/${releaseId}/publish`);
  return { productId, releaseId };
}
