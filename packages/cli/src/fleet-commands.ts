import { readFileSync } from "node:fs";
import { onlyPositionals, parse, wholeNumber } from "./args.ts";
import { CliError } from "./client.ts";
import type { Command, Io } from "./command.ts";
import { table } from "./table.ts";

interface Device {
  id: string;
  groupName: string;
  status: string;
  online: boolean;
  lastSeenAt: string | null;
  serial: string | null;
  config: { policy: string; version: number } | null;
  metadata: { model?: string; osName?: string; agentVersion?: string; mac?: string };
}

export function deviceTable(devices: Device[]): string {
  return table(
    ["DEVICE", "SERIAL", "GROUP", "STATUS", "PRESENCE", "MODEL", "OS", "AGENT", "MAC", "CONFIG", "LAST SEEN"],
    devices.map((d) => [
      d.id,
      d.serial ?? "-",
      d.groupName,
      d.status,
      d.online ? "online" : "offline",
      d.metadata.model ?? "-",
      d.metadata.osName ?? "-",
      d.metadata.agentVersion ?? "-",
      d.metadata.mac ?? "-",
      d.config ? `${d.config.policy}@${d.config.version}` : "-",
      d.lastSeenAt ?? "-",
    ]),
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function deviceIdArg(id: string | undefined, usage: string): string {
  if (!id || !UUID.test(id)) throw new CliError(`${usage} needs a device ID (a UUID)`, 2);
  return id;
}

/** A list as a table, or with --json the server's page as it came. */
function printList(io: Io, json: boolean | undefined, page: unknown, text: () => string): void {
  io.stdout(json ? `${JSON.stringify(page)}\n` : `${text()}\n`);
}

const deviceList: Command = async (args, api, io) => {
  const { values } = parse(args, {
    group: { type: "string" },
    status: { type: "string" },
    online: { type: "string" },
    product: { type: "string" },
    serial: { type: "string" },
    sort: { type: "string" },
    limit: { type: "string" },
    offset: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.online !== undefined && values.online !== "true" && values.online !== "false")
    throw new CliError("--online must be true or false", 2);
  const query = new URLSearchParams();
  for (const key of ["group", "status", "online", "product", "serial", "sort", "offset"] as const)
    if (values[key] !== undefined) query.set(key, values[key]!);
  query.set("limit", values.limit ?? "1000");
  const page = await (await api()).call<{ items: Device[]; total: number }>(
    "GET",
    `/api/v1/devices?${query}`,
  );
  io.stdout(
    values.json ? `${JSON.stringify(page)}\n` : `${deviceTable(page.items)}\n${page.total} device(s)\n`,
  );
  return 0;
};

const deviceShow: Command = async (args, api, io) => {
  const id = deviceIdArg(onlyPositionals(args, 1)[0], "device show");
  io.stdout(`${JSON.stringify(await (await api()).call("GET", `/api/v1/devices/${id}`), null, 2)}\n`);
  return 0;
};

const deviceSet: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    { serial: { type: "string" }, product: { type: "string" } },
    { max: 1 },
  );
  const id = deviceIdArg(positionals[0], "device set");
  if (values.serial === undefined && values.product === undefined)
    throw new CliError("device set needs --serial and/or --product", 2);
  await (await api()).call("PATCH", `/api/v1/devices/${id}`, values);
  io.stdout("updated\n");
  return 0;
};

/** `bulwark device disable|enable|quarantine|compromise|decommission ID [--reason TEXT]`. */
function deviceAction(action: string): Command {
  return async (args, api, io) => {
    const { values, positionals } = parse(args, { reason: { type: "string" } }, { max: 1 });
    const id = deviceIdArg(positionals[0], `device ${action}`);
    const result = await (await api()).call<{
      from: string;
      device: { status: string };
      sessionsAffected: number;
      certificatesRevoked: number;
    }>("POST", `/api/v1/devices/${id}/${action}`, values.reason ? { reason: values.reason } : {});
    const extra = [
      result.sessionsAffected ? `${result.sessionsAffected} session(s) affected` : "",
      result.certificatesRevoked ? `${result.certificatesRevoked} certificate(s) revoked` : "",
      action === "decommission" ? "wipe sent; the record is deleted when the device confirms" : "",
    ].filter(Boolean);
    io.stdout(
      `${id}: ${result.from} -> ${result.device.status}${extra.length ? ` (${extra.join(", ")})` : ""}\n`,
    );
    return 0;
  };
}

interface Transfer {
  id: string;
  state: "requested" | "key-received" | "exported" | "imported" | "failed";
  reason: string | null;
  records: number | null;
  waitingFor: { deviceId: string; role: "source" | "target"; command: string } | null;
  deadline: string | null;
}

/** One line for a transfer: its outcome, or what it waits on and until when. */
function transferLine(t: Transfer, to: string): string {
  if (t.state === "imported") return `${t.id}: imported (${t.records} record(s) moved to ${to})`;
  if (t.state === "failed") return `${t.id}: failed: ${t.reason}`;
  const waiting = t.waitingFor
    ? `; waiting for the ${t.waitingFor.role} ${t.waitingFor.deviceId} to answer ${t.waitingFor.command} (sent again when it reconnects)`
    : "";
  return `${t.id}: ${t.state}${waiting}${t.deadline ? `; fails at ${t.deadline} if it does not` : ""}`;
}

/**
 * `bulwark device transfer OLD_ID NEW_ID`: moves OLD's data to NEW, sealed to NEW and signed by
 * OLD, and waits for the outcome (at most --wait seconds, default 60). A device that is away gets
 * its command when it reconnects; the transfer fails at its deadline if it does not.
 * `bulwark device transfer --status TRANSFER_ID` shows where a transfer is.
 */
const deviceTransfer: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    { wait: { type: "string" }, status: { type: "string" } },
    { max: 2 },
  );
  if (values.status !== undefined) {
    if (positionals.length > 0 || values.wait !== undefined)
      throw new CliError("device transfer --status TRANSFER_ID takes nothing else", 2);
    const id = values.status;
    if (!UUID.test(id)) throw new CliError("device transfer --status needs a TRANSFER_ID (a UUID)", 2);
    const t = await (await api()).call<Transfer>("GET", `/api/v1/transfers/${id}`);
    io.stdout(`${transferLine(t, "the new device")}\n`);
    return t.state === "failed" ? 1 : 0;
  }
  const from = deviceIdArg(positionals[0], "device transfer OLD_ID NEW_ID");
  const to = deviceIdArg(positionals[1], "device transfer OLD_ID NEW_ID");
  const waitSeconds = wholeNumber(values.wait, "--wait") ?? 60;
  if (waitSeconds < 0) throw new CliError("--wait must be 0 or more seconds", 2);
  const client = await api();
  let transfer = await client.call<Transfer>("POST", `/api/v1/devices/${from}/transfer`, { to });
  process.stderr.write(`transfer ${transfer.id} started: ${from} -> ${to}\n`);
  const deadline = Date.now() + waitSeconds * 1000;
  while (transfer.state !== "imported" && transfer.state !== "failed" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    transfer = await client.call<Transfer>("GET", `/api/v1/transfers/${transfer.id}`);
  }
  if (transfer.state === "imported") {
    io.stdout(`${transferLine(transfer, to)}\n`);
    return 0;
  }
  if (transfer.state === "failed")
    throw new CliError(`transfer ${transfer.id} failed: ${transfer.reason}`, 1);
  throw new CliError(
    `transfer ${transferLine(transfer, to)} (after ${waitSeconds} s; follow it with: bulwark device transfer --status ${transfer.id})`,
    1,
  );
};

const groupList: Command = async (args, api, io) => {
  const { values } = parse(args, { json: { type: "boolean" } });
  const groups = await (await api()).call<{
    items: { name: string; id: string; policyName: string | null }[];
  }>("GET", "/api/v1/groups");
  printList(io, values.json, groups, () =>
    table(
      ["GROUP", "POLICY", "ID"],
      groups.items.map((g) => [g.name, g.policyName ?? "-", g.id]),
    ),
  );
  return 0;
};

const groupCreate: Command = async (args, api, io) => {
  const [name] = onlyPositionals(args, 1);
  if (!name) throw new CliError("group create needs a NAME", 2);
  const group = await (await api()).call<{ id: string }>("POST", "/api/v1/groups", { name });
  io.stdout(`${group.id}\n`);
  return 0;
};

const groupSetPolicy: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { none: { type: "boolean" } }, { max: 2 });
  const [group, named] = positionals;
  // Exactly one of POLICY and --none.
  if (!group || (named === undefined) === !values.none)
    throw new CliError("group set-policy needs GROUP and POLICY (or --none)", 2);
  const policy = values.none ? null : named;
  const result = await (await api()).call<{ pushed: number }>(
    "PUT",
    `/api/v1/groups/${encodeURIComponent(group)}/policy`,
    { policy },
  );
  io.stdout(`group ${group}: policy ${policy ?? "none"} (pushed to ${result.pushed} device(s))\n`);
  return 0;
};

const policyList: Command = async (args, api, io) => {
  const { values } = parse(args, { json: { type: "boolean" } });
  const list = await (await api()).call<{ items: { name: string; version: number; createdAt: string }[] }>(
    "GET",
    "/api/v1/policies",
  );
  printList(io, values.json, list, () =>
    table(
      ["POLICY", "VERSION", "CREATED"],
      list.items.map((p) => [p.name, String(p.version), p.createdAt]),
    ),
  );
  return 0;
};

const policyShow: Command = async (args, api, io) => {
  const [name] = onlyPositionals(args, 1);
  if (!name) throw new CliError("policy show needs a NAME", 2);
  io.stdout(
    `${JSON.stringify(await (await api()).call("GET", `/api/v1/policies/${encodeURIComponent(name)}`), null, 2)}\n`,
  );
  return 0;
};

/** `bulwark policy publish NAME --file settings.json` (`-` reads stdin): makes the next version. */
const policyPublish: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { file: { type: "string" } }, { max: 1 });
  const [name] = positionals;
  if (!name || !values.file) throw new CliError("policy publish needs NAME --file SETTINGS.json", 2);
  let settings: unknown;
  try {
    settings = JSON.parse(readFileSync(values.file === "-" ? 0 : values.file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read the settings: ${(error as Error).message}`, 2);
  }
  const created = await (await api()).call<{ version: number; pushed: number }>(
    "POST",
    `/api/v1/policies/${encodeURIComponent(name)}/versions`,
    { settings },
  );
  io.stdout(`policy ${name} version ${created.version} (pushed to ${created.pushed} device(s))\n`);
  return 0;
};

const securityEvents: Command = async (args, api, io) => {
  const { values } = parse(args, {
    device: { type: "string" },
    kind: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
  });
  const query = new URLSearchParams();
  if (values.device) query.set("device", values.device);
  if (values.kind) query.set("kind", values.kind);
  query.set("limit", values.limit ?? "100");
  const page = await (await api()).call<{
    items: { receivedAt: string; deviceId: string; kind: string; detail: string | null }[];
    total: number;
  }>("GET", `/api/v1/security-events?${query}`);
  io.stdout(
    values.json
      ? `${JSON.stringify(page)}\n`
      : `${table(
          ["RECEIVED", "DEVICE", "KIND", "DETAIL"],
          page.items.map((e) => [e.receivedAt, e.deviceId, e.kind, e.detail ?? "-"]),
        )}\n${page.total} event(s)\n`,
  );
  return 0;
};

/** The fleet commands, spread into the CLI's command table by `commands.ts`. */
export const FLEET_COMMANDS: Record<string, Command> = {
  "device list": deviceList,
  "device show": deviceShow,
  "device set": deviceSet,
  "device disable": deviceAction("disable"),
  "device enable": deviceAction("enable"),
  "device quarantine": deviceAction("quarantine"),
  "device compromise": deviceAction("compromise"),
  "device decommission": deviceAction("decommission"),
  "device transfer": deviceTransfer,
  "group list": groupList,
  "group create": groupCreate,
  "group set-policy": groupSetPolicy,
  "policy list": policyList,
  "policy show": policyShow,
  "policy publish": policyPublish,
  "security-events list": securityEvents,
};
