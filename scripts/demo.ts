/**
 * `npm run demo`: the whole platform on this machine. A server on a temporary data directory,
 * three real agents that enrol over EST and connect over mutual TLS 1.3 MQTT, the device table,
 * an SBOM + offline advisory import giving a finding, then a clean stop. Every step uses the same binaries a user runs.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { readOsvBundle } from "../packages/sdk/src/software/osv/bundle.ts";
import type { OsvRecord } from "../packages/sdk/src/software/osv/types.ts";
import { craStep } from "./demo-cra.ts";
import { secureUpdateStep } from "./demo-updates.ts";

const exec = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const SERVER = join(ROOT, "packages/server/src/main.ts");
const AGENT = join(ROOT, "packages/agent/src/main.ts");
const CLI = join(ROOT, "packages/cli/src/main.ts");
const DEVICES = [
  { label: "router-0001", model: "bw-router-r1" },
  { label: "camera-0001", model: "bw-camera-c2" },
  { label: "gateway-0001", model: "bw-gateway-g3" },
];

const step = (text: string) => process.stdout.write(`\n== ${text}\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function waitForLine(
  child: ChildProcess,
  stream: "stdout" | "stderr",
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}`)), timeoutMs);
    child[stream]!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const match = buffer.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once("exit", (code) => reject(new Error(`process exited with ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  return exited;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const keyFile = join(work, "admin.key");
  const children: ChildProcess[] = [];
  try {
    step(`Starting the server (data in ${work}/data, HTTPS :${httpPort}, MQTT/TLS 1.3 :${mqttPort})`);
    const server = spawn(
      process.execPath,
      [
        SERVER,
        "--data",
        join(work, "data"),
        "--http-port",
        String(httpPort),
        "--mqtt-port",
        String(mqttPort),
        "--bootstrap-admin-key-file",
        keyFile,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(server);
    const [, fingerprint] = await waitForLine(
      server,
      "stderr",
      /fingerprint \(devices pin this\): ([0-9a-f]{64})/,
    );
    await waitForLine(server, "stdout", /Server listening/);
    process.stdout.write(`root CA fingerprint ${fingerprint}\n`);
    const env = {
      ...process.env,
      BULWARK_URL: `https://127.0.0.1:${httpPort}`,
      BULWARK_API_KEY: readFileSync(keyFile, "utf8").trim(),
      BULWARK_CA_FILE: join(work, "data", "root-ca.pem"),
    };

    step("Enrolling three devices: one-time token (CLI) → EST simpleenroll (agent)");
    for (const device of DEVICES) {
      const { stdout: token } = await exec(process.execPath, [CLI, "token", "create", "--group", "default"], {
        env,
      });
      const stateDir = join(work, device.label);
      const { stderr } = await exec(process.execPath, [
        AGENT,
        "enroll",
        "--server",
        env.BULWARK_URL,
        "--token",
        token.trim(),
        "--ca-fingerprint",
        fingerprint!,
        "--state-dir",
        stateDir,
        "--label",
        device.label,
      ]);
      process.stdout.write(`${device.label}: ${stderr.trim()}\n`);
    }

    step("Running the three agents: they connect out over MQTT with mutual TLS 1.3");
    for (const device of DEVICES) {
      const agent = spawn(
        process.execPath,
        [AGENT, "run", "--state-dir", join(work, device.label), "--model", device.model],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      children.push(agent);
      await waitForLine(agent, "stdout", /"metadata published"/);
      process.stdout.write(`${device.label}: connected, metadata published\n`);
    }

    step("Device table (bulwark device list)");
    for (let attempt = 0; ; attempt++) {
      const { stdout } = await exec(process.execPath, [CLI, "device", "list"], { env });
      if ((stdout.match(/ online /g) ?? []).length === DEVICES.length || attempt > 100) {
        process.stdout.write(stdout);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    await secureUpdateStep(
      work,
      env,
      { cli: CLI, agent: AGENT, stateDirs: DEVICES.map((d) => join(work, d.label)) },
      step,
    );

    step("Audit log: sign a checkpoint, export as JSON lines, verify offline (bulwark audit verify)");
    await exec(process.execPath, [CLI, "audit", "export", "--out", join(work, "audit.jsonl")], { env });
    const { stdout: checkpointKey } = await exec(process.execPath, [CLI, "audit", "key"], { env });
    writeFileSync(join(work, "audit-checkpoint.pem"), checkpointKey);
    const { stdout: verified } = await exec(
      process.execPath,
      [
        CLI,
        "audit",
        "verify",
        "--file",
        join(work, "audit.jsonl"),
        "--public-key",
        join(work, "audit-checkpoint.pem"),
      ],
      { env },
    );
    process.stdout.write(verified);

    step("Incident response: quarantine the camera, disable the gateway (bulwark device ...)");
    const ids = new Map<string, string>();
    const { stdout: listed } = await exec(process.execPath, [CLI, "device", "list", "--json"], { env });
    for (const d of (JSON.parse(listed) as { items: { id: string; metadata: { model?: string } }[] }).items)
      ids.set(d.metadata.model ?? "", d.id);
    for (const [action, model] of [
      ["quarantine", "bw-camera-c2"],
      ["disable", "bw-gateway-g3"],
    ] as const) {
      const { stdout } = await exec(
        process.execPath,
        [CLI, "device", action, ids.get(model)!, "--reason", "demo incident"],
        { env },
      );
      process.stdout.write(stdout);
    }
    const { stdout: afterIncident } = await exec(process.execPath, [CLI, "device", "list", "--sort=status"], {
      env,
    });
    process.stdout.write(afterIncident);

    step("Revocation: bulwark cert revoke → the live session closes; OCSP (openssl ocsp) says revoked");
    const first = join(work, DEVICES[0]!.label);
    const serial = new X509Certificate(
      readFileSync(join(first, "device.cert.pem")),
    ).serialNumber.toLowerCase();
    const ocsp = async () => {
      const args = ["ocsp", "-issuer", join(first, "chain.pem"), "-cert", join(first, "device.cert.pem")];
      const url = `${env.BULWARK_URL}/pki/ocsp`;
      const result = await exec("openssl", [...args, "-url", url, "-CAfile", env.BULWARK_CA_FILE]).catch(
        (error: { stdout?: string }) => ({ stdout: error.stdout ?? "openssl not available\n" }),
      );
      return result.stdout.split("\n").find((l) => l.includes("device.cert.pem")) ?? result.stdout.trim();
    };
    process.stdout.write(`before: ${await ocsp()}\n`);
    const disconnected = waitForLine(children[1]!, "stdout", /"disconnected; reconnecting"/);
    const { stdout: revoked } = await exec(
      process.execPath,
      [CLI, "cert", "revoke", serial, "--reason", "keyCompromise"],
      {
        env,
      },
    );
    process.stdout.write(revoked);
    await disconnected;
    process.stdout.write(`${DEVICES[0]!.label}: session closed by the server\n`);
    process.stdout.write(`after:  ${await ocsp()}\n`);

    const product = await softwareTrustStep(work, env);
    await craStep(work, env, product, demoAdvisories);

    step("Stopping agents and server");
    for (const child of children.slice(1)) await stop(child);
    const code = await stop(server);
    process.stdout.write(`server exited with code ${code}\n`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  }
}

/** Real PyPA advisories for the packages of the demo SBOM, written as a small OSV directory. */
async function demoAdvisories(dir: string, packages: readonly string[]): Promise<number> {
  const bundle = join(ROOT, "test/data/osv/pypa-advisory-db-osv.tar.gz");
  mkdirSync(dir);
  let n = 0;
  for await (const { path, record } of readOsvBundle(bundle)) {
    if (!record.affected.some((a) => packages.includes(a.package?.name.toLowerCase() ?? ""))) continue;
    const file = join(dir, path.split("/").join("_"));
    writeFileSync(file, osvJson(record));
    n++;
  }
  return n;
}

/** The validated record back as OSV JSON (the fields the importer reads). */
function osvJson(r: OsvRecord): string {
  return JSON.stringify({
    id: r.id,
    modified: r.modified,
    aliases: r.aliases,
    summary: r.summary,
    severity: r.severity,
    affected: r.affected.map((a) => ({
      package: a.package && { ecosystem: a.package.ecosystem, name: a.package.name },
      ranges: a.ranges.map((g) => ({
        type: g.type,
        repo: g.repo,
        events: g.events.map((e) => ({ [e.kind]: e.version })),
      })),
      versions: a.versions,
    })),
  });
}

async function softwareTrustStep(work: string, env: NodeJS.ProcessEnv): Promise<string> {
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [CLI, ...args], { env })).stdout.trim();
  step("Software trust: an SBOM on a release, an offline OSV import, a finding (CRA Annex I Part II)");
  const requirements = join(work, "requirements.txt");
  writeFileSync(requirements, "jinja2==2.10\nurllib3==1.26.5\nrequests==2.31.0\n");
  const sbom = join(work, "sbom.cdx.json");
  writeFileSync(
    sbom,
    await cli(
      "sbom",
      "generate",
      "--from",
      "requirements",
      "--creator",
      "sbom@demo-devices.example",
      "--name",
      "gateway-fw",
      requirements,
    ),
  );
  const product = await cli("product", "create", "gateway-fw");
  const release = await cli("release", "create", product, "4.2.0");
  const upload = JSON.parse(await cli("sbom", "upload", release, sbom, "--json")) as {
    sbom: { components: number };
  };
  process.stdout.write(`release gateway-fw 4.2.0: SBOM with ${upload.sbom.components} components attached\n`);
  const n = await demoAdvisories(join(work, "osv"), ["jinja2", "urllib3", "requests"]);
  const imported = JSON.parse(await cli("vuln", "import", join(work, "osv"), "--json")) as {
    rematch: { created: number };
  };
  process.stdout.write(`${n} real PyPA advisories imported → ${imported.rematch.created} new finding(s)\n`);
  process.stdout.write(`${await cli("findings", "list", "--release", release)}\n`);

  step("CI gate: bulwark scan, offline, against the same advisories and the CISA KEV catalogue");
  const kev = join(ROOT, "test/data/kev/known_exploited_vulnerabilities.json.gz");
  const gate = await exec(
    process.execPath,
    [CLI, "scan", sbom, "--osv", join(work, "osv"), "--kev", kev, "--fail-on", "high"],
    { env },
  ).then(
    (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
    // Exit 1 is the gate closing (a finding reached --fail-on), not a demo failure.
    (error: { code?: number; stdout?: string; stderr?: string }) => {
      if (error.code !== 1) throw error;
      return { code: 1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" };
    },
  );
  process.stdout.write(`${gate.stdout.trim()}\n${gate.stderr.trim()}\n`);
  process.stdout.write(
    `bulwark scan --fail-on high exited with ${gate.code} (1 = the build would stop here)\n`,
  );
  return product;
}

main().catch((error: Error) => {
  process.stderr.write(`demo failed: ${error.message}\n`);
  process.exitCode = 1;
});
