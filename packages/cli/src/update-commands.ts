import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { type ApiClient, CliError } from "./client.ts";
import type { Io } from "./commands.ts";
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

export const UPDATE_COMMANDS: Record<string, Command> = {
  "artifact upload": artifactUpload,
  "artifact list": artifactList,
  "release update": releaseUpdate,
};
