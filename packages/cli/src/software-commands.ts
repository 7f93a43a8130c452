import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { digestFile, verifyDetached } from "@bulwark/sdk/signing/detached";
import { isSoftwareError } from "@bulwark/sdk/software/errors";
import { toCycloneDx } from "@bulwark/sdk/software/sbom/generate/cyclonedx";
import { inventoryFromDpkgStatus } from "@bulwark/sdk/software/sbom/generate/dpkg";
import { inventoryFromFirmwareManifest } from "@bulwark/sdk/software/sbom/generate/firmware";
import { type GenerateOptions, type Inventory, isContact } from "@bulwark/sdk/software/sbom/generate/model";
import { inventoryFromPackageLock } from "@bulwark/sdk/software/sbom/generate/npm-lock";
import {
  inventoryFromPythonLock,
  inventoryFromRequirements,
} from "@bulwark/sdk/software/sbom/generate/python";
import { toSpdx } from "@bulwark/sdk/software/sbom/generate/spdx";
import { toSpdx3 } from "@bulwark/sdk/software/sbom/generate/spdx3";
import { pack } from "tar-stream";
import { onlyPositionals, parse } from "./args.ts";
import { CliError } from "./client.ts";
import type { Command } from "./command.ts";
import { type ImportSummary, importSummary, type SbomSummary, sbomSummary } from "./summaries.ts";
import { table } from "./table.ts";

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, 2);
  }
}

const productCreate: Command = async (args, api, io) => {
  const [name] = onlyPositionals(args, 1);
  if (!name) throw new CliError("product create needs a NAME", 2);
  io.stdout(`${(await (await api()).call<{ id: string }>("POST", "/api/v1/products", { name })).id}\n`);
  return 0;
};

const releaseCreate: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { classification: { type: "string" } }, { max: 2 });
  if (positionals.length !== 2)
    throw new CliError("release create needs PRODUCT_ID VERSION [--classification security|feature]", 2);
  const body = {
    version: positionals[1],
    ...(values.classification ? { classification: values.classification } : {}),
  };
  const release = await (await api()).call<{ id: string }>(
    "POST",
    `/api/v1/products/${encodeURIComponent(positionals[0]!)}/releases`,
    body,
  );
  io.stdout(`${release.id}\n`);
  return 0;
};

/** Prints a summary by default; with --json the server's whole answer. */
const sbomUpload: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { json: { type: "boolean" } }, { max: 2 });
  const [release, file] = positionals;
  if (!release || !file) throw new CliError("sbom upload needs RELEASE_ID FILE", 2);
  const summary = await (await api()).upload<SbomSummary>(
    "POST",
    `/api/v1/releases/${encodeURIComponent(release)}/sboms`,
    readInput(file),
    "application/json",
  );
  io.stdout(values.json ? json(summary) : sbomSummary(summary));
  return 0;
};

const GENERATORS: Record<string, (text: string, name: string) => Inventory> = {
  "package-lock": (t) => inventoryFromPackageLock(t),
  requirements: (t, n) => inventoryFromRequirements(t, "requirements.txt", n),
  "poetry-lock": (t, n) => inventoryFromPythonLock(t, "poetry.lock", n),
  "uv-lock": (t, n) => inventoryFromPythonLock(t, "uv.lock", n),
  "dpkg-status": (t, n) => inventoryFromDpkgStatus(t, { subjectName: n }),
  "firmware-manifest": (t) => inventoryFromFirmwareManifest(t),
};

/**
 * Offline: builds a CycloneDX 1.6, SPDX 2.3 or SPDX 3.0.1 SBOM from a lock file, dpkg status or firmware manifest.
 * --creator (BSI TR-03183-2 v2.1.0 §5.2.1: the SBOM creator's e-mail address or URL) is required:
 * nothing in the input says who makes the SBOM.
 */
const sbomGenerate: Command = async (args, _api, io) => {
  const { values, positionals } = parse(
    args,
    {
      from: { type: "string" },
      format: { type: "string" },
      name: { type: "string" },
      creator: { type: "string" },
      "creator-name": { type: "string" },
      "distribution-licences": { type: "string" },
    },
    { max: 1 },
  );
  const generate = values.from ? GENERATORS[values.from] : undefined;
  if (!generate || positionals.length !== 1 || !values.creator)
    throw new CliError(
      `sbom generate needs --from ${Object.keys(GENERATORS).join("|")} --creator EMAIL|URL FILE`,
      2,
    );
  if (values.format && !["cyclonedx", "spdx", "spdx3"].includes(values.format))
    throw new CliError("--format is cyclonedx, spdx (2.3) or spdx3 (3.0.1)", 2);
  if (!isContact(values.creator))
    throw new CliError("--creator is the SBOM creator's e-mail address or http(s) URL", 2);
  const distribution = values["distribution-licences"];
  if (distribution !== undefined && distribution !== "declared")
    throw new CliError("--distribution-licences is declared (or left out)", 2);
  const options: GenerateOptions = {
    creator: {
      contact: values.creator,
      ...(values["creator-name"] ? { name: values["creator-name"] } : {}),
    },
    ...(distribution === "declared" ? { distributionLicences: "declared" as const } : {}),
  };
  try {
    const inventory = generate(readInput(positionals[0]!).toString("utf8"), values.name ?? "project");
    const doc =
      values.format === "spdx3"
        ? toSpdx3(inventory, options)
        : values.format === "spdx"
          ? toSpdx(inventory, options)
          : toCycloneDx(inventory, options);
    io.stdout(json(doc));
  } catch (error) {
    if (isSoftwareError(error)) throw new CliError(error.message, 1);
    throw error;
  }
  return 0;
};

function osvFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...osvFiles(path));
    else if (/\.(json|ya?ml)$/i.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** Packs a directory of OSV records as tar.gz, the bundle form the server reads. */
async function packDirectory(dir: string): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on("end", resolve);
    tar.on("error", reject);
  });
  for (const file of osvFiles(dir)) {
    await new Promise<void>((resolve, reject) =>
      tar.entry({ name: relative(dir, file).split("\\").join("/") }, readFileSync(file), (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  }
  tar.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

function uploadTypeOf(path: string): string {
  const p = path.toLowerCase();
  if (p.endsWith(".tar.gz") || p.endsWith(".tgz") || p.endsWith(".gz")) return "application/gzip";
  if (p.endsWith(".zip")) return "application/zip";
  if (p.endsWith(".tar")) return "application/x-tar";
  if (p.endsWith(".yaml") || p.endsWith(".yml")) return "application/yaml";
  if (p.endsWith(".json")) return "application/json";
  throw new CliError(`${path}: expected a directory, .tar.gz, .zip, .tar, .json or .yaml`, 2);
}

/** Prints a summary by default; with --json the server's whole answer. */
const vulnImport: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { json: { type: "boolean" } }, { max: 1 });
  const [path] = positionals;
  if (!path) throw new CliError("vuln import needs PATH (directory, .zip, .tar.gz, .json or .yaml)", 2);
  const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  const body = isDir ? await packDirectory(path) : readInput(path);
  const type = isDir ? "application/gzip" : uploadTypeOf(path);
  const result = await (await api()).upload<ImportSummary>("POST", "/api/v1/vulnerabilities/osv", body, type);
  io.stdout(values.json ? json(result) : importSummary(result));
  return 0;
};

const kevImport: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { json: { type: "boolean" } }, { max: 1 });
  const [path] = positionals;
  if (!path) throw new CliError("kev import needs PATH (the KEV catalogue, .json or .json.gz)", 2);
  const body = readInput(path);
  // RFC 1952 §2.3.1: gzip magic.
  const type = body[0] === 0x1f && body[1] === 0x8b ? "application/gzip" : "application/json";
  const result = await (await api()).upload<ImportSummary>("POST", "/api/v1/vulnerabilities/kev", body, type);
  io.stdout(values.json ? json(result) : importSummary(result));
  return 0;
};

interface FindingView {
  id: string;
  vulnerability: string;
  severity: string;
  knownExploited: boolean;
  status: string;
  component: { purl: string };
  triage: { state: string };
}

const findingsList: Command = async (args, api, io) => {
  const { values } = parse(args, {
    release: { type: "string" },
    status: { type: "string" },
    "known-exploited": { type: "boolean" },
    article14: { type: "boolean" },
    limit: { type: "string" },
    json: { type: "boolean" },
  });
  const q = new URLSearchParams({ limit: values.limit ?? "1000" });
  if (values.release) q.set("release", values.release);
  if (values.status) q.set("status", values.status);
  if (values["known-exploited"]) q.set("knownExploited", "true");
  const path = values.article14 ? "/api/v1/cra/article14-candidates" : "/api/v1/findings";
  const page = await (await api()).call<{ items: FindingView[]; total: number }>("GET", `${path}?${q}`);
  if (values.json) io.stdout(`${JSON.stringify(page)}\n`);
  else
    io.stdout(
      `${table(
        ["FINDING", "VULNERABILITY", "SEVERITY", "KEV", "STATUS", "TRIAGE", "COMPONENT"],
        page.items.map((f) => [
          f.id,
          f.vulnerability,
          f.severity,
          f.knownExploited ? "yes" : "-",
          f.status,
          f.triage.state,
          f.component.purl,
        ]),
      )}\n${page.total} finding(s)\n`,
    );
  return 0;
};

const triage: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    {
      state: { type: "string" },
      justification: { type: "string" },
      impact: { type: "string" },
      action: { type: "string" },
      detail: { type: "string" },
    },
    { max: 1 },
  );
  if (positionals.length !== 1 || !values.state)
    throw new CliError("triage needs FINDING_ID --state under_investigation|affected|not_affected|fixed", 2);
  const body = {
    state: values.state,
    ...(values.justification ? { justification: values.justification } : {}),
    ...(values.impact ? { impactStatement: values.impact } : {}),
    ...(values.action ? { actionStatement: values.action } : {}),
    ...(values.detail ? { detail: values.detail } : {}),
  };
  const finding = await (await api()).call<FindingView>(
    "POST",
    `/api/v1/findings/${encodeURIComponent(positionals[0]!)}/triage`,
    body,
  );
  io.stdout(`${finding.id} ${finding.triage.state}\n`);
  return 0;
};

const vexExport: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { format: { type: "string" } }, { max: 1 });
  if (positionals.length !== 1)
    throw new CliError("vex export needs RELEASE_ID [--format openvex|cyclonedx]", 2);
  const format = values.format ?? "openvex";
  if (format !== "openvex" && format !== "cyclonedx")
    throw new CliError("--format is openvex or cyclonedx", 2);
  io.stdout(
    json(
      await (await api()).call(
        "GET",
        `/api/v1/releases/${encodeURIComponent(positionals[0]!)}/vex?format=${format}`,
      ),
    ),
  );
  return 0;
};

const signingKeyCreate: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { out: { type: "string" } }, { max: 1 });
  if (positionals.length !== 1) throw new CliError("signing-key create needs LABEL [--out PUBLIC.pem]", 2);
  const key = await (await api()).call<{ id: string; publicKeyPem: string }>("POST", "/api/v1/signing-keys", {
    label: positionals[0],
  });
  if (values.out) writeFileSync(values.out, key.publicKeyPem);
  io.stdout(`${key.id}\n`);
  return 0;
};

/** Hashes the artifact locally and asks the server to sign the digests; writes ARTIFACT.sig.json. */
const sign: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    { key: { type: "string" }, out: { type: "string" } },
    { max: 1 },
  );
  if (positionals.length !== 1 || !values.key)
    throw new CliError("sign needs ARTIFACT --key SIGNING_KEY_ID", 2);
  const artifact = positionals[0]!;
  readInput(artifact);
  const digest = await digestFile(artifact, basename(artifact));
  const signature = await (await api()).call(
    "POST",
    `/api/v1/signing-keys/${encodeURIComponent(values.key)}/signatures`,
    digest,
  );
  const out = values.out ?? `${artifact}.sig.json`;
  writeFileSync(out, json(signature));
  io.stdout(`${out}\n`);
  return 0;
};

/** Offline: verifies a detached hybrid signature with nothing but the public keys; both must verify. */
const verify: Command = async (args, _api, io) => {
  const { values, positionals } = parse(args, { key: { type: "string" } }, { max: 2 });
  if (positionals.length !== 2 || !values.key)
    throw new CliError("verify needs ARTIFACT SIGNATURE --key PUBLIC.pem", 2);
  const [artifact, signature] = positionals as [string, string];
  const signatureText = readInput(signature).toString("utf8");
  const keyPem = readInput(values.key).toString("utf8");
  readInput(artifact);
  const result = verifyDetached(signatureText, await digestFile(artifact, basename(artifact)), keyPem);
  if (!result.ok) throw new CliError(`signature NOT valid: ${result.detail} (${result.reason})`, 1);
  io.stdout(`signature valid: ECDSA P-256 and ML-DSA-65 over sha256:${result.signature.artifact.sha256}\n`);
  return 0;
};

export const SOFTWARE_COMMANDS: Record<string, Command> = {
  "product create": productCreate,
  "release create": releaseCreate,
  "sbom upload": sbomUpload,
  "sbom generate": sbomGenerate,
  "vuln import": vulnImport,
  "kev import": kevImport,
  "findings list": findingsList,
  triage,
  "vex export": vexExport,
  "signing-key create": signingKeyCreate,
  sign,
  verify,
};
