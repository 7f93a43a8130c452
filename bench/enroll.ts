/**
 * `npm run bench -- enroll [seconds] [concurrency]`: EST enrolments per second end to end — a
 * load generator in another process enrols P-256 devices through `simpleenroll`, each over a
 * fresh TLS 1.3 connection (no session reuse) — against the bare TLS 1.3 handshake rate of the
 * same HTTPS server measured in the same run. ML-DSA-65 enrolments are reported alongside.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createSecureContext, type SecureContext } from "node:tls";
import pino from "pino";
import { generateKeyPair, type KeyAlgorithm } from "../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../packages/sdk/src/x509/name.ts";
import { startServer } from "../packages/server/src/app.ts";
import { parseConfig } from "../packages/server/src/config.ts";

/** One client TLS context for every connection, so the load generator does not re-parse the CA per request. */
let clientContext: SecureContext | undefined;
const context = (plan: LoadPlan) =>
  (clientContext ??= createSecureContext({ ca: plan.ca, minVersion: "TLSv1.3" }));

interface LoadPlan {
  url: string;
  ca: string;
  seconds: number;
  concurrency: number;
  tokens: { ecdsa: string; pq: string };
}

/** Runs `worker` on `concurrency` lanes for `seconds`; returns completed operations per second. */
async function measure(seconds: number, concurrency: number, worker: () => Promise<void>): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await worker();
        done++;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

function handshake(plan: LoadPlan): Promise<void> {
  const { hostname, port } = new URL(plan.url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: hostname,
      port: Number(port),
      ca: plan.ca,
      servername: "localhost",
      minVersion: "TLSv1.3",
    });
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

function enrol(plan: LoadPlan, token: string, csr: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL("/.well-known/est/simpleenroll", plan.url),
      {
        method: "POST",
        agent: false,
        // node:https passes TLS options through to tls.connect (its typings omit secureContext).
        ...({ secureContext: context(plan) } as object),
        headers: {
          "content-type": "application/pkcs10",
          authorization: `Basic ${Buffer.from(`bench:${token}`).toString("base64")}`,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(csr);
  });
}

function csrPool(algorithm: KeyAlgorithm, count: number): string[] {
  return Array.from({ length: count }, () =>
    buildCsr({ subjectDer: commonNameOnly("bench"), algorithm, ...generateKeyPair(algorithm) }).toString(
      "base64",
    ),
  );
}

/** The load generator (child process): prints one JSON line of rates. */
async function loadGenerator(plan: LoadPlan): Promise<void> {
  const ecdsa = csrPool("ecdsa-p256", 500);
  const pq = csrPool("ml-dsa-65", 200);
  let i = 0;
  const handshakes = await measure(plan.seconds, plan.concurrency, () => handshake(plan));
  const ecdsaRate = await measure(plan.seconds, plan.concurrency, () =>
    enrol(plan, plan.tokens.ecdsa, ecdsa[i++ % ecdsa.length]!),
  );
  const pqRate = await measure(plan.seconds, plan.concurrency, () =>
    enrol(plan, plan.tokens.pq, pq[i++ % pq.length]!),
  );
  process.stdout.write(`${JSON.stringify({ handshakes, ecdsaRate, pqRate })}\n`);
}

async function token(
  server: Awaited<ReturnType<typeof startServer>>,
  adminKey: string,
  ca: string,
  group: string,
) {
  const res = await fetchJson(server.httpUrl, adminKey, ca, "POST", "/api/v1/enrolment-tokens", {
    group,
    maxUses: 100000,
    ttlSeconds: 3600,
  });
  return (res as { token: string }).token;
}

function fetchJson(
  base: string,
  key: string,
  ca: string,
  method: string,
  path: string,
  body: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method, ca, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

export async function run(args: string[]): Promise<void> {
  if (args[0] === "--load") return loadGenerator(JSON.parse(readFileSync(0, "utf8")) as LoadPlan);
  const seconds = Number(args[0] ?? 5);
  const concurrency = Number(args[1] ?? 16);
  // BULWARK_BENCH_DIR places the data directory elsewhere (e.g. /dev/shm to take the disk's fsync out).
  const dir = mkdtempSync(join(process.env.BULWARK_BENCH_DIR ?? tmpdir(), "bulwark-bench-enroll-"));
  const config = parseConfig(
    [
      "--data",
      join(dir, "data"),
      "--http-port",
      "0",
      "--mqtt-port",
      "0",
      "--bootstrap-admin-key-file",
      join(dir, "admin.key"),
    ],
    {},
  );
  if (config === "help") throw new Error("unreachable");
  const server = await startServer(config, pino({ level: "silent" }));
  try {
    const adminKey = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const ca = readFileSync(server.rootPemPath, "utf8");
    // The load generator is one address, like a factory provisioning station: its operator raises
    // the per-IP EST rate limit (600/min by default) through the audited policy API.
    await fetchJson(server.httpUrl, adminKey, ca, "PUT", "/api/v1/policies/rate-limits", {
      enrolment: 1_000_000,
    });
    await fetchJson(server.httpUrl, adminKey, ca, "POST", "/api/v1/groups", { name: "pq" });
    await fetchJson(server.httpUrl, adminKey, ca, "PUT", "/api/v1/groups/pq/provisioning-policy", {
      keyAlgorithms: ["ml-dsa-65"],
      validityDays: 365,
      issuingCa: "Bulwark ML-DSA-65 Device Issuing CA",
    });
    const plan: LoadPlan = {
      url: server.httpUrl,
      ca,
      seconds,
      concurrency,
      tokens: {
        ecdsa: await token(server, adminKey, ca, "default"),
        pq: await token(server, adminKey, ca, "pq"),
      },
    };
    const child = spawn(
      process.execPath,
      [new URL("./run.ts", import.meta.url).pathname, "enroll", "--load"],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    child.stdin.end(JSON.stringify(plan));
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    if (code !== 0) throw new Error(`load generator failed (${code})`);
    const { handshakes, ecdsaRate, pqRate } = JSON.parse(out) as {
      handshakes: number;
      ecdsaRate: number;
      pqRate: number;
    };
    process.stderr.write(
      `bare TLS 1.3 handshakes: ${handshakes.toFixed(0)}/s\nEST enrolments (P-256, fresh TLS 1.3 each): ${ecdsaRate.toFixed(0)}/s\n` +
        `EST enrolments (ML-DSA-65): ${pqRate.toFixed(0)}/s\n(${concurrency} concurrent connections, ${seconds} s per phase)\n`,
    );
    const ratio = ecdsaRate / handshakes;
    process.stdout.write(
      `${JSON.stringify({
        bench: "enroll",
        metric: "est_enrolments_per_second",
        value: Math.round(ecdsaRate),
        unit: "enrolments/s",
        peer: "bare_tls13_handshakes_per_second",
        peer_value: Math.round(handshakes),
        ratio: Number(ratio.toFixed(3)),
        goal: ">= 0.5 of the handshake rate",
        met: ratio >= 0.5,
        ml_dsa_65_enrolments_per_second: Math.round(pqRate),
      })}\n`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
