import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type ApiClient, CliError } from "./client.ts";
import type { Io } from "./command.ts";
import { verifyExport } from "./cra-verify.ts";
import { table } from "./table.ts";

/** `bulwark cra …`: the CRA compliance domain (issue #16) over the HTTP API. */
type Command = (args: string[], api: () => Promise<ApiClient>, io: Io) => Promise<number>;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const path = (...parts: string[]) => parts.map(encodeURIComponent).join("/");

interface Matrix {
  productName: string;
  evaluatedAt: string;
  summary: Record<string, number>;
  requirements: { id: string; status: string; reason: string }[];
}

const matrix: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" }, full: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new CliError("cra matrix needs PRODUCT_ID [--full] [--json]", 2);
  // --full: (2)(l) walks the whole audit chain, not only the entries after the last verified point.
  const query = values.full ? "?full=1" : "";
  const m = await (await api()).call<Matrix>(
    "GET",
    `/api/v1/products/${path(positionals[0]!)}/annex-i${query}`,
  );
  if (values.json) {
    io.stdout(json(m));
    return 0;
  }
  io.stdout(`Annex I matrix of ${m.productName} at ${m.evaluatedAt}\n`);
  io.stdout(
    `${table(
      ["requirement", "status", "reason"],
      m.requirements.map((r) => [r.id, r.status, r.reason]),
    )}\n`,
  );
  const s = m.summary;
  io.stdout(
    `${s.met} met, ${s["partly-met"]} partly met, ${s["not-met"]} not met, ${s["not-applicable"]} not applicable\n`,
  );
  return 0;
};

interface Clock {
  stage: string;
  dueAt: string | null;
  state: string;
  remainingMs: number | null;
  waitingFor: string | null;
}
interface Report {
  id: string;
  kind: string;
  status: string;
  title: string;
  vulnerability: string | null;
  awareAt: number;
  clocks: Clock[];
}

/** "23 h 59 min left", "overdue by 2 h", "submitted", "waiting for …". */
export function clockText(c: Clock): string {
  if (c.state === "submitted" || c.state === "not-requested") return c.state;
  if (c.remainingMs === null) return `waiting for ${c.waitingFor}`;
  const abs = Math.abs(c.remainingMs);
  const span = `${Math.floor(abs / 3_600_000)} h ${Math.floor((abs % 3_600_000) / 60_000)} min`;
  return c.remainingMs < 0 ? `overdue by ${span}` : `${span} left (due ${c.dueAt})`;
}

const reportList: Command = async (args, api, io) => {
  const { values } = parseArgs({
    args,
    options: { product: { type: "string" }, status: { type: "string" }, json: { type: "boolean" } },
  });
  const query = new URLSearchParams();
  if (values.product) query.set("product", values.product);
  if (values.status) query.set("status", values.status);
  const { items } = await (await api()).call<{ items: Report[] }>("GET", `/api/v1/cra/reports?${query}`);
  if (values.json) {
    io.stdout(json(items));
    return 0;
  }
  const next = (r: Report) => r.clocks.find((c) => c.state === "running" || c.state === "overdue");
  io.stdout(
    `${table(
      ["id", "kind", "status", "title", "next deadline"],
      items.map((r) => {
        const c = next(r);
        return [r.id, r.kind, r.status, r.title, c ? `${c.stage}: ${clockText(c)}` : "-"];
      }),
    )}\n`,
  );
  return 0;
};

const reportShow: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new CliError("cra report show needs EVENT_ID [--json]", 2);
  const r = await (await api()).call<Report>("GET", `/api/v1/cra/reports/${path(positionals[0]!)}`);
  if (values.json) {
    io.stdout(json(r));
    return 0;
  }
  io.stdout(`${r.title} (${r.kind}, ${r.status}${r.vulnerability ? `, ${r.vulnerability}` : ""})\n`);
  io.stdout(`aware since ${new Date(r.awareAt).toISOString()}\n`);
  io.stdout(
    `${table(
      ["stage", "clock"],
      r.clocks.map((c) => [c.stage, clockText(c)]),
    )}\n`,
  );
  return 0;
};

interface Notice {
  id: string;
  severity: string;
  title: string;
  action: string;
  versions: string[];
  createdAt: number;
  deliveries: { pending: number; sent: number; acknowledged: number };
  published?: number;
  online?: number;
  devices?: {
    deviceId: string;
    version: string | null;
    state: string;
    attempts: number;
    hook: string | null;
  }[];
}

const SEVERITIES = ["low", "medium", "high", "critical"];
const deliveryText = (n: Notice) =>
  `${n.deliveries.acknowledged} acknowledged, ${n.deliveries.sent} sent, ${n.deliveries.pending} pending (offline)`;

/** `cra report notify EVENT_ID --severity S [--action TEXT] [--text TEXT] [--version V …]`: CRA Art. 14(8). */
const reportNotify: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      severity: { type: "string" },
      action: { type: "string" },
      text: { type: "string" },
      version: { type: "string", multiple: true },
      json: { type: "boolean" },
    },
  });
  if (positionals.length !== 1 || !values.severity || !SEVERITIES.includes(values.severity))
    throw new CliError(
      `cra report notify needs EVENT_ID --severity ${SEVERITIES.join("|")} [--action TEXT] [--text TEXT] [--version V ...]`,
      2,
    );
  const n = await (await api()).call<Notice>(
    "POST",
    `/api/v1/cra/reports/${path(positionals[0]!, "user-notices")}`,
    {
      severity: values.severity,
      ...(values.action ? { action: values.action } : {}),
      ...(values.text ? { text: values.text } : {}),
      ...(values.version?.length ? { versions: values.version } : {}),
    },
  );
  if (values.json) {
    io.stdout(json(n));
    return 0;
  }
  io.stdout(`notice ${n.id} (${n.severity}) for versions ${n.versions.join(", ")}\n`);
  io.stdout(
    `${n.published} devices run an affected version: sent to the ${n.online} online now, the others get it when they reconnect\n`,
  );
  return 0;
};

/** `cra report notices EVENT_ID [NOTICE_ID] [--json]`: the notices sent, or one notice's deliveries per device. */
const reportNotices: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length < 1 || positionals.length > 2)
    throw new CliError("cra report notices needs EVENT_ID [NOTICE_ID] [--json]", 2);
  const client = await api();
  if (positionals.length === 1) {
    const { items } = await client.call<{ items: Notice[] }>(
      "GET",
      `/api/v1/cra/reports/${path(positionals[0]!, "user-notices")}`,
    );
    if (values.json) {
      io.stdout(json(items));
      return 0;
    }
    io.stdout(
      `${table(
        ["id", "severity", "sent at", "versions", "delivery"],
        items.map((n) => [
          n.id,
          n.severity,
          new Date(n.createdAt).toISOString(),
          n.versions.join(","),
          deliveryText(n),
        ]),
      )}\n`,
    );
    return 0;
  }
  const n = await client.call<Notice>(
    "GET",
    `/api/v1/cra/reports/${path(positionals[0]!, "user-notices", positionals[1]!)}`,
  );
  if (values.json) {
    io.stdout(json(n));
    return 0;
  }
  io.stdout(`notice ${n.id} (${n.severity}): ${deliveryText(n)}\n`);
  io.stdout(
    `${table(
      ["device", "version", "state", "attempts", "hook"],
      (n.devices ?? []).map((d) => [
        d.deviceId,
        d.version ?? "-",
        d.state,
        String(d.attempts),
        d.hook ?? "-",
      ]),
    )}\n`,
  );
  return 0;
};

const STAGES = ["early-warning", "notification", "intermediate", "final"];

const reportDraft: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { stage: { type: "string" }, json: { type: "boolean" } },
  });
  if (positionals.length !== 1 || !values.stage || !STAGES.includes(values.stage))
    throw new CliError(`cra report draft needs EVENT_ID --stage ${STAGES.join("|")} [--json]`, 2);
  const draft = await (await api()).call<{ text: string }>(
    "GET",
    `/api/v1/cra/reports/${path(positionals[0]!, "drafts", values.stage)}`,
  );
  io.stdout(values.json ? json(draft) : `${draft.text}\n`);
  return 0;
};

const reportSubmit: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { stage: { type: "string" }, csirt: { type: "string" }, reference: { type: "string" } },
  });
  if (positionals.length !== 1 || !values.stage || !values.csirt || !values.reference)
    throw new CliError("cra report submit needs EVENT_ID --stage STAGE --csirt NAME --reference REF", 2);
  const r = await (await api()).call<Report>(
    "POST",
    `/api/v1/cra/reports/${path(positionals[0]!, "submissions")}`,
    {
      stage: values.stage,
      csirt: values.csirt,
      reference: values.reference,
    },
  );
  io.stdout(
    `${table(
      ["stage", "clock"],
      r.clocks.map((c) => [c.stage, clockText(c)]),
    )}\n`,
  );
  return 0;
};

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read ${file} as JSON: ${(error as Error).message}`, 2);
  }
}

/** `cra profile PRODUCT_ID --file PROFILE.json`: the product's CRA data (PUT, whole document). */
const profile: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { file: { type: "string" } },
  });
  if (positionals.length !== 1 || !values.file)
    throw new CliError("cra profile needs PRODUCT_ID --file PROFILE.json", 2);
  const saved = await (await api()).call(
    "PUT",
    `/api/v1/products/${path(positionals[0]!)}/cra`,
    readJson(values.file),
  );
  io.stdout(json(saved));
  return 0;
};

/** `cra risk PRODUCT_ID --file RISK.json`: a new version of the product's risk assessment. */
const risk: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { file: { type: "string" } },
  });
  if (positionals.length !== 1 || !values.file)
    throw new CliError("cra risk needs PRODUCT_ID --file RISK.json", 2);
  const saved = await (await api()).call<{ version: number; sha256: string }>(
    "POST",
    `/api/v1/products/${path(positionals[0]!)}/risk-assessments`,
    readJson(values.file),
  );
  io.stdout(`risk assessment version ${saved.version} (sha256 ${saved.sha256})\n`);
  return 0;
};

/** `cra link-group PRODUCT_ID GROUP`: the group's devices run the product. */
const linkGroup: Command = async (args, api, io) => {
  if (args.length !== 2) throw new CliError("cra link-group needs PRODUCT_ID GROUP", 2);
  const { items } = await (await api()).call<{ items: { name: string }[] }>(
    "PUT",
    `/api/v1/products/${path(args[0]!, "groups", args[1]!)}`,
  );
  io.stdout(`${items.map((g) => g.name).join("\n")}\n`);
  return 0;
};

/** `cra test add PRODUCT_ID --kind K --tool T --outcome O --summary S [--release ID] [--report FILE] [--at ISO]`. */
const testAdd: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      kind: { type: "string" },
      tool: { type: "string" },
      outcome: { type: "string" },
      summary: { type: "string" },
      release: { type: "string" },
      report: { type: "string" },
      at: { type: "string" },
    },
  });
  if (positionals.length !== 1 || !values.kind || !values.tool || !values.outcome || !values.summary)
    throw new CliError(
      "cra test add needs PRODUCT_ID --kind K --tool T --outcome pass|fail|partial --summary S",
      2,
    );
  let report: string | undefined;
  if (values.report)
    try {
      report = readFileSync(values.report, "utf8");
    } catch (error) {
      throw new CliError(`cannot read ${values.report}: ${(error as Error).message}`, 2);
    }
  const record = await (await api()).call<{ id: string }>(
    "POST",
    `/api/v1/products/${path(positionals[0]!)}/test-records`,
    {
      kind: values.kind,
      tool: values.tool,
      outcome: values.outcome,
      summary: values.summary,
      performedAt: values.at ?? new Date().toISOString(),
      ...(values.release ? { releaseId: values.release } : {}),
      ...(report ? { report } : {}),
    },
  );
  io.stdout(`${record.id}\n`);
  return 0;
};

const testList: Command = async (args, api, io) => {
  if (args.length !== 1) throw new CliError("cra test list needs PRODUCT_ID", 2);
  const r = await (await api()).call<{
    items: { kind: string; tool: string; outcome: string; performedAt: number; summary: string }[];
    platformChecks: { kind: string; tool: string; outcome: string; performedAt: number; summary: string }[];
  }>("GET", `/api/v1/products/${path(args[0]!)}/test-records`);
  const rows = [...r.items, ...r.platformChecks]
    .sort((a, b) => b.performedAt - a.performedAt)
    .map((t) => [new Date(t.performedAt).toISOString().slice(0, 10), t.kind, t.outcome, t.tool, t.summary]);
  io.stdout(`${table(["date", "kind", "outcome", "tool", "summary"], rows)}\n`);
  return 0;
};

/** `cra export PRODUCT_ID --out FILE.zip`: the signed Annex VII / V / II bundle. */
const exportBundle: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: "string" } },
  });
  if (positionals.length !== 1 || !values.out)
    throw new CliError("cra export needs PRODUCT_ID --out FILE.zip", 2);
  const bundle = await (await api()).call<{ zipBase64: string; size: number }>(
    "GET",
    `/api/v1/products/${path(positionals[0]!)}/cra-export`,
  );
  writeFileSync(values.out, Buffer.from(bundle.zipBase64, "base64"), { mode: 0o600 });
  io.stdout(`${values.out}: ${bundle.size} bytes\n`);
  return 0;
};

/** `cra verify-export FILE.zip [--root ROOT.pem]`: offline; exit 1 when anything does not verify. */
const verifyBundle: Command = async (args, _api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { root: { type: "string" } },
  });
  const rootFile = values.root ?? io.env.BULWARK_CA_FILE;
  if (positionals.length !== 1 || !rootFile)
    throw new CliError("cra verify-export needs FILE.zip and --root ROOT.pem (or BULWARK_CA_FILE)", 2);
  let zip: Buffer;
  let root: string;
  try {
    zip = readFileSync(positionals[0]!);
    root = readFileSync(rootFile, "utf8");
  } catch (error) {
    throw new CliError(`cannot read: ${(error as Error).message}`, 2);
  }
  let result: ReturnType<typeof verifyExport>;
  try {
    result = verifyExport(zip, root);
  } catch (error) {
    throw new CliError(`not a CRA export: ${(error as Error).message}`, 1);
  }
  if (!result.ok) throw new CliError(`export does not verify: ${result.problems.join("; ")}`, 1);
  io.stdout(`verified: ${result.files} files of ${result.product}, signed by ${result.signer}\n`);
  return 0;
};

export const CRA_COMMANDS: Record<string, Command> = {
  "cra matrix": matrix,
  "cra profile": profile,
  "cra risk": risk,
  "cra link-group": linkGroup,
  "cra export": exportBundle,
  "cra verify-export": verifyBundle,
  "cra test": async (args, api, io) => {
    const [sub, ...rest] = args;
    const command = { add: testAdd, list: testList }[sub ?? ""];
    if (!command) throw new CliError("cra test needs add|list", 2);
    return command(rest, api, io);
  },
  "cra report": async (args, api, io) => {
    const [sub, ...rest] = args;
    const command = {
      list: reportList,
      show: reportShow,
      draft: reportDraft,
      submit: reportSubmit,
      notify: reportNotify,
      notices: reportNotices,
    }[sub ?? ""];
    if (!command) throw new CliError("cra report needs list|show|draft|submit|notify|notices", 2);
    return command(rest, api, io);
  },
};
