import { createPrivateKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { generateKeyPair, type SigningRequest, signSigningRequest } from "@bulwark/sdk/tuf";
import { type ApiClient, CliError } from "./client.ts";
import type { Io } from "./command.ts";
import { DEPLOY_COMMANDS } from "./deploy-commands.ts";
import { table } from "./table.ts";

/** `bulwark artifact …`, `release update|publish`, `tuf root …`, `deploy …` (issue #15). */
type Command = (args: string[], api: () => Promise<ApiClient>, io: Io) => Promise<number>;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function idArg(value: string | undefined, usage: string): string {
  if (!value || !UUID.test(value)) throw new CliError(`${usage}`, 2);
  return value;
}

/** One line of progress: `[#####-----]  50%  1.0/2.0 MiB`. */
export function progressBar(sent: number, total: number, width = 30): string {
  const fraction = total === 0 ? 1 : Math.min(1, sent / total);
  const filled = Math.round(fraction * width);
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${mib(sent)}/${mib(total)} MiB`;
}

interface Artifact {
  id: string;
  name: string;
  kind: string;
  length: number;
  sha256: string;
}

const artifactUpload: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { name: { type: "string" }, kind: { type: "string" }, json: { type: "boolean" } },
  });
  const usage = "artifact upload needs RELEASE_ID FILE [--name TARGET] [--kind binary|config]";
  const release = idArg(positionals[0], usage);
  const file = positionals[1];
  if (!file) throw new CliError(usage, 2);
  if (values.kind && values.kind !== "binary" && values.kind !== "config") throw new CliError(usage, 2);
  const query = new URLSearchParams({ name: values.name ?? basename(file), kind: values.kind ?? "binary" });
  // The bar goes to stderr, on a terminal only, so stdout stays the artifact's id (or JSON).
  const tty = process.stderr.isTTY === true;
  let last = -1;
  const artifact = await (await api()).uploadFile<Artifact>(
    `/api/v1/releases/${release}/artifacts?${query}`,
    {
      file,
      contentType: "application/octet-stream",
      onProgress: (sent, total) => {
        const percent = Math.floor((sent / Math.max(total, 1)) * 100);
        if (!tty || percent === last) return;
        last = percent;
        process.stderr.write(`\r${progressBar(sent, total)}`);
      },
    },
  );
  if (tty) process.stderr.write("\n");
  io.stdout(
    values.json
      ? json(artifact)
      : `${artifact.id}  ${artifact.sha256}  ${artifact.length}  ${artifact.name}\n`,
  );
  return 0;
};

const artifactList: Command = async (args, api, io) => {
  const release = idArg(args[0], "artifact list needs RELEASE_ID");
  const { items } = await (await api()).call<{ items: Artifact[] }>(
    "GET",
    `/api/v1/releases/${release}/artifacts`,
  );
  io.stdout(
    table(
      ["ARTIFACT", "NAME", "KIND", "BYTES", "SHA-256"],
      items.map((a) => [a.id, a.name, a.kind, String(a.length), a.sha256]),
    ),
  );
  return 0;
};

const releaseUpdate: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      component: { type: "string" },
      hardware: { type: "string" },
      "advisory-file": { type: "string" },
      "no-advisory": { type: "boolean" },
    },
  });
  const release = idArg(
    positionals[0],
    "release update needs RELEASE_ID [--component C] [--hardware REV,REV] [--advisory-file ADVISORY.json]",
  );
  const body: Record<string, unknown> = {};
  if (values.component) body.component = values.component;
  if (values.hardware !== undefined) body.hardware = values.hardware.split(",").filter(Boolean);
  if (values["advisory-file"]) {
    try {
      body.advisory = JSON.parse(readFileSync(values["advisory-file"], "utf8"));
    } catch (error) {
      throw new CliError(`cannot read the advisory: ${(error as Error).message}`, 2);
    }
  }
  if (values["no-advisory"]) body.advisory = null;
  io.stdout(json(await (await api()).call("PUT", `/api/v1/releases/${release}/update`, body)));
  return 0;
};

/** `bulwark product update PRODUCT_ID --delta off|prefer|require`: the default delta policy of its deployments. */
const productUpdate: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { delta: { type: "string" } },
  });
  const usage = "product update needs PRODUCT_ID --delta off|prefer|require";
  const product = idArg(positionals[0], usage);
  if (positionals.length > 1 || values.delta === undefined) throw new CliError(usage, 2);
  if (!["off", "prefer", "require"].includes(values.delta))
    throw new CliError("--delta is off, prefer or require", 2);
  io.stdout(
    json(await (await api()).call("PUT", `/api/v1/products/${product}/update`, { delta: values.delta })),
  );
  return 0;
};

const releasePublish: Command = async (args, api, io) => {
  const release = idArg(args[0], "release publish needs RELEASE_ID");
  const published = await (await api()).call<{
    targets: string[];
    snapshotVersion: number;
    deltas?: { path: string; length: number; fullLength: number; format?: string }[];
    deltasSkipped?: { artifact: string; baseVersion: string; reason: string }[];
  }>("POST", `/api/v1/releases/${release}/publish`);
  io.stdout(`published ${published.targets.join(", ")} (snapshot v${published.snapshotVersion})\n`);
  for (const delta of published.deltas ?? [])
    io.stdout(
      `delta ${delta.path}: ${delta.length} bytes for ${delta.fullLength} (${((100 * delta.length) / delta.fullLength).toFixed(2)} %${delta.format ? `, ${delta.format}` : ""})\n`,
    );
  for (const skipped of published.deltasSkipped ?? [])
    io.stdout(`no delta for ${skipped.artifact} from ${skipped.baseVersion}: ${skipped.reason}\n`);
  return 0;
};

const tufStatus: Command = async (args, api, io) => {
  const product = idArg(args[0], "tuf status needs PRODUCT_ID");
  io.stdout(json(await (await api()).call("GET", `/api/v1/products/${product}/tuf`)));
  return 0;
};

type RootState = { status: "published" | "pending"; version: number; request?: unknown };

function rootStateLine(state: RootState): string {
  return state.status === "published"
    ? `root v${state.version} published\n`
    : `root v${state.version} pending: ${Object.keys((state.request as { keys: object }).keys).length} signature(s) still asked\n`;
}

const tufRootSignRequest: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      key: { type: "string", multiple: true },
      threshold: { type: "string" },
      out: { type: "string" },
    },
  });
  const usage =
    "tuf root sign-request needs PRODUCT_ID [--key PUBLIC.pem ...] [--threshold K] [--out REQUEST.json]";
  const product = idArg(positionals[0], usage);
  const body: Record<string, unknown> = {};
  if (values.key) body.rootKeys = values.key.map((file) => readFileSync(file, "utf8"));
  if (values.threshold) body.threshold = Number(values.threshold);
  const state = await (await api()).call<RootState>(
    "POST",
    `/api/v1/products/${product}/tuf/root/sign-request`,
    body,
  );
  if (state.status === "pending" && values.out) writeFileSync(values.out, json(state.request));
  io.stdout(rootStateLine(state));
  return 0;
};

/** Offline: the key holder checks the request and signs it (no server contact). */
const tufRootSign: Command = async (args, _api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { key: { type: "string" }, out: { type: "string" } },
  });
  if (!positionals[0] || !values.key)
    throw new CliError("tuf root sign needs REQUEST.json --key PRIVATE.pem [--out SIG.json]", 2);
  const request = JSON.parse(readFileSync(positionals[0], "utf8")) as SigningRequest;
  const signature = signSigningRequest(request, createPrivateKey(readFileSync(values.key, "utf8")));
  if (values.out) writeFileSync(values.out, json(signature));
  else io.stdout(json(signature));
  return 0;
};

const tufRootImport: Command = async (args, api, io) => {
  const product = idArg(args[0], "tuf root import-signature needs PRODUCT_ID SIG.json");
  if (!args[1]) throw new CliError("tuf root import-signature needs PRODUCT_ID SIG.json", 2);
  const signature = JSON.parse(readFileSync(args[1], "utf8")) as unknown;
  io.stdout(
    rootStateLine(
      await (await api()).call<RootState>(
        "POST",
        `/api/v1/products/${product}/tuf/root/signatures`,
        signature,
      ),
    ),
  );
  return 0;
};

const ROTATE_ROLES = ["root", "targets", "snapshot", "timestamp", "all"];

/** Online key rotation through root N+1 (TUF spec §6.1); the root may wait for offline signatures. */
const tufRotate: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: "string" }, out: { type: "string" } },
  });
  const usage = "tuf rotate needs PRODUCT_ID --role targets|snapshot|timestamp|all|root [--out REQUEST.json]";
  const product = idArg(positionals[0], usage);
  if (!values.role || !ROTATE_ROLES.includes(values.role)) throw new CliError(usage, 2);
  const state = await (await api()).call<RootState & { rotated: string[] }>(
    "POST",
    `/api/v1/products/${product}/tuf/rotate`,
    { role: values.role },
  );
  if (state.status === "pending" && values.out) writeFileSync(values.out, json(state.request));
  const roles = state.rotated.join(", ");
  io.stdout(
    state.status === "published"
      ? `rotated ${roles}: root v${state.version} published, metadata re-signed with the new keys\n`
      : `rotated ${roles}: ${rootStateLine(state).trimEnd()}; the new keys sign once it is complete\n`,
  );
  return 0;
};

/** Offline: one signer's hybrid pair (ECDSA P-256 + ML-DSA-65), private keys written 0600. */
const tufKeyGenerate: Command = async (args, _api, io) => {
  const { values } = parseArgs({ args, options: { "out-dir": { type: "string" } } });
  const dir = values["out-dir"];
  if (!dir) throw new CliError("tuf keygen needs --out-dir DIR", 2);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const family of ["ecdsa", "ml-dsa"] as const) {
    const { privateKey, key, keyid } = generateKeyPair(family);
    writeFileSync(join(dir, `${family}.pem`), privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
    });
    writeFileSync(join(dir, `${family}.pub.pem`), key.keyval.public);
    io.stdout(`${family} ${keyid}\n`);
  }
  return 0;
};

export const UPDATE_COMMANDS: Record<string, Command> = {
  ...DEPLOY_COMMANDS,
  "artifact upload": artifactUpload,
  "artifact list": artifactList,
  "release update": releaseUpdate,
  "product update": productUpdate,
  "release publish": releasePublish,
  "tuf status": tufStatus,
  "tuf keygen": tufKeyGenerate,
  "tuf rotate": tufRotate,
  "tuf root": (args, api, io) => {
    const sub = { "sign-request": tufRootSignRequest, sign: tufRootSign, "import-signature": tufRootImport }[
      args[0] ?? ""
    ];
    return sub ? sub(args.slice(1), api, io) : usageError("tuf root sign-request|sign|import-signature …");
  },
};

function usageError(usage: string): Promise<number> {
  throw new CliError(usage, 2);
}
