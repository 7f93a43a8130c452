import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type ApiClient, CliError } from "./client.ts";
import type { Io } from "./command.ts";

/** `bulwark deploy RELEASE_ID --group NAME | --devices ID,… [--strategy …]` and `deploy status|pause|resume|cancel` (issue #15). */
type Command = (args: string[], api: () => Promise<ApiClient>, io: Io) => Promise<number>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATES = [
  "queued",
  "notified",
  "deferred",
  "downloading",
  "verifying",
  "installing",
  "succeeded",
  "failed",
  "rolled_back",
  "rejected",
  "canceled",
  "timed_out",
];

interface Summary {
  id: string;
  status: string;
  statusReason: string | null;
  wave: number;
  eligible: number;
  incompatible: number;
  /** Left out: the release is below their anti-rollback floor (absent from older servers). */
  belowFloor?: number;
  /**
   * Devices whose agent cannot apply the release's delta format: left out under delta require,
   * taking the full image under prefer (absent from older servers); the reason says which.
   */
  deltaUnsupported?: number;
  /** The formats of the release's delta targets. */
  deltaFormats?: string[];
  spec?: { delta?: string };
  jobs: Record<string, number>;
}

/** `all-at-once`, `waves:1,10,100`, `rate:500` (per minute) or `exponential:10x2/60` (initial × factor every seconds). */
export function parseStrategy(text: string): Record<string, unknown> {
  const [kind, arg = ""] = text.split(":");
  switch (kind) {
    case "all-at-once":
      return { kind };
    case "waves":
      return { kind, waves: arg.split(",").map(Number) };
    case "rate":
      return { kind, perMinute: Number(arg) };
    case "exponential": {
      const m = /^(\d+)x([\d.]+)\/(\d+)$/.exec(arg);
      if (!m)
        throw new CliError("--strategy exponential:INITIALxFACTOR/SECONDS, e.g. exponential:10x2/60", 2);
      return { kind, initial: Number(m[1]), factor: Number(m[2]), intervalSeconds: Number(m[3]) };
    }
    default:
      throw new CliError("--strategy all-at-once | waves:P,P,100 | rate:N | exponential:IxF/S", 2);
  }
}

const deploy: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      group: { type: "string" },
      devices: { type: "string" },
      strategy: { type: "string" },
      "success-gate": { type: "string" },
      "pause-after-wave": { type: "boolean" },
      "abort-rate": { type: "string" },
      "abort-min": { type: "string" },
      window: { type: "string" },
      "time-zone": { type: "string" },
      "window-minutes": { type: "string" },
      "max-deferral-hours": { type: "string" },
      rollback: { type: "boolean" },
      delta: { type: "string" },
      "spec-file": { type: "string" },
    },
  });
  const usage =
    "deploy needs RELEASE_ID --group NAME | --devices ID,… [--strategy …] (or --spec-file SPEC.json)";
  if (!positionals[0] || !UUID.test(positionals[0])) throw new CliError(usage, 2);
  const body: Record<string, unknown> = values["spec-file"]
    ? JSON.parse(readFileSync(values["spec-file"], "utf8"))
    : {};
  body.releaseId = positionals[0];
  if (values.group) body.group = values.group;
  if (values.devices) body.devices = values.devices.split(",").filter(Boolean);
  if (values.strategy) {
    const strategy = parseStrategy(values.strategy);
    if (strategy.kind === "waves") {
      if (values["success-gate"]) strategy.successGate = Number(values["success-gate"]);
      strategy.pauseAfterWave = values["pause-after-wave"] === true;
    }
    body.strategy = strategy;
  }
  if (values["abort-rate"] || values["abort-min"])
    body.abort = {
      failureRate: Number(values["abort-rate"] ?? 0.2),
      minCount: Number(values["abort-min"] ?? 10),
    };
  if (values.window)
    body.window = {
      cron: values.window,
      timeZone: values["time-zone"] ?? "UTC",
      durationMinutes: Number(values["window-minutes"] ?? 60),
    };
  if (values["max-deferral-hours"])
    body.maxDeferralSeconds = Math.round(Number(values["max-deferral-hours"]) * 3600);
  if (values.rollback) body.rollback = true;
  if (values.delta !== undefined) {
    if (!["off", "prefer", "require"].includes(values.delta))
      throw new CliError("--delta is off, prefer or require (default: the product's, else prefer)", 2);
    body.delta = values.delta;
  }
  const created = await (await api()).call<{ id: string }>("POST", "/api/v1/deployments", body);
  io.stdout(`${created.id}\n`);
  return 0;
};

/** Devices whose agent cannot apply the release's delta format: left out (require) or on the full image (prefer). */
function deltaPart(s: Summary): string {
  if (!s.deltaUnsupported) return "";
  const formats = s.deltaFormats?.length ? `${s.deltaFormats.join(", ")} deltas` : "the release's deltas";
  return s.spec?.delta === "require"
    ? `, ${s.deltaUnsupported} left out: their agent cannot apply ${formats} (delta require)`
    : `, ${s.deltaUnsupported} on the full image: their agent cannot apply ${formats}`;
}

/** The aggregate as a few lines: status, a bar of finished jobs, counts per state. */
export function renderStatus(s: Summary, width = 40): string {
  const total = Math.max(
    s.eligible,
    Object.values(s.jobs).reduce((a, b) => a + b, 0),
  );
  const done = s.jobs.succeeded ?? 0;
  const bad =
    (s.jobs.failed ?? 0) + (s.jobs.rolled_back ?? 0) + (s.jobs.timed_out ?? 0) + (s.jobs.rejected ?? 0);
  const cells = (n: number) => (total === 0 ? 0 : Math.round((n / total) * width));
  const good = cells(done);
  const failed = Math.min(width - good, cells(bad));
  const bar = `${"#".repeat(good)}${"x".repeat(failed)}${"-".repeat(width - good - failed)}`;
  const counts = STATES.filter((state) => (s.jobs[state] ?? 0) > 0).map(
    (state) => `${state} ${s.jobs[state]}`,
  );
  return [
    `deployment ${s.id}  ${s.status}${s.statusReason ? ` (${s.statusReason})` : ""}  wave ${s.wave + 1}`,
    `[${bar}] ${done}/${total} succeeded, ${bad} failed${s.incompatible ? `, ${s.incompatible} incompatible` : ""}${s.belowFloor ? `, ${s.belowFloor} below their anti-rollback floor` : ""}${deltaPart(s)}`,
    counts.join("  ") || "no jobs yet",
  ].join("\n");
}

const OPEN = ["queued", "notified", "deferred", "downloading", "verifying", "installing"];

/** Ended, or (a group stays open for late joiners) every device reached has a finished job. */
function settled(s: Summary): boolean {
  if (["canceled", "aborted", "completed"].includes(s.status)) return true;
  const jobs = Object.values(s.jobs).reduce((a, b) => a + b, 0);
  return (
    s.status === "running" &&
    s.eligible > 0 &&
    jobs >= s.eligible &&
    !OPEN.some((state) => (s.jobs[state] ?? 0) > 0)
  );
}

const status: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { watch: { type: "boolean" }, interval: { type: "string" }, json: { type: "boolean" } },
  });
  const id = positionals[0];
  if (!id || !UUID.test(id)) throw new CliError("deploy status needs DEPLOYMENT_ID [--watch]", 2);
  const client = await api();
  const read = () => client.call<Summary>("GET", `/api/v1/deployments/${id}`);
  let summary = await read();
  if (values.json) {
    io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  }
  if (!values.watch) {
    io.stdout(`${renderStatus(summary)}\n`);
    return 0;
  }
  // Redraws in place (three lines) until the deployment ends, or settles with nothing left to do.
  const interval = Number(values.interval ?? 1) * 1000;
  for (let first = true; ; first = false) {
    io.stdout(`${first ? "" : "\x1b[3F\x1b[J"}${renderStatus(summary)}\n`);
    if (settled(summary)) return summary.status === "aborted" ? 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, interval));
    summary = await read();
  }
};

interface JobRow {
  deviceId: string;
  state: string;
  wave: number;
  reason: string | null;
  updatedAt: string;
}

/** `bulwark deploy jobs DEPLOYMENT_ID [--json]`: each device's job, its state and last reason. */
const jobs: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  const id = positionals[0];
  if (!id || !UUID.test(id) || positionals.length > 1)
    throw new CliError("deploy jobs needs DEPLOYMENT_ID [--json]", 2);
  const { items } = await (await api()).call<{ items: JobRow[] }>("GET", `/api/v1/deployments/${id}/jobs`);
  if (values.json) {
    io.stdout(`${JSON.stringify(items, null, 2)}\n`);
    return 0;
  }
  for (const job of items) {
    const line = `${job.deviceId}  wave ${job.wave}  ${job.state.padEnd(11)}  ${job.reason ?? ""}`;
    io.stdout(`${line.trimEnd()}\n`);
  }
  return 0;
};

const action =
  (name: "pause" | "resume" | "cancel"): Command =>
  async (args, api, io) => {
    const id = args[0];
    if (!id || !UUID.test(id)) throw new CliError(`deploy ${name} needs DEPLOYMENT_ID`, 2);
    io.stdout(
      `${renderStatus(await (await api()).call<Summary>("POST", `/api/v1/deployments/${id}/${name}`))}\n`,
    );
    return 0;
  };

export const DEPLOY_COMMANDS: Record<string, Command> = {
  deploy,
  "deploy status": status,
  "deploy jobs": jobs,
  "deploy pause": action("pause"),
  "deploy resume": action("resume"),
  "deploy cancel": action("cancel"),
};
