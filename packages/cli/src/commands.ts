import { parseArgs } from "node:util";
import { type ApiClient, CliError } from "./client.ts";
import { SOFTWARE_COMMANDS } from "./software-commands.ts";
import { table } from "./table.ts";

export interface Io {
  stdout: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

interface Device {
  id: string;
  groupName: string;
  status: string;
  online: boolean;
  lastSeenAt: string | null;
  metadata: { model?: string; osName?: string; agentVersion?: string; mac?: string };
}

export function deviceTable(devices: Device[]): string {
  return table(
    ["DEVICE", "GROUP", "STATUS", "PRESENCE", "MODEL", "OS", "AGENT", "MAC", "LAST SEEN"],
    devices.map((d) => [
      d.id,
      d.groupName,
      d.status,
      d.online ? "online" : "offline",
      d.metadata.model ?? "-",
      d.metadata.osName ?? "-",
      d.metadata.agentVersion ?? "-",
      d.metadata.mac ?? "-",
      d.lastSeenAt ?? "-",
    ]),
  );
}

type Command = (args: string[], api: () => Promise<ApiClient>, io: Io) => Promise<number>;

const tokenCreate: Command = async (args, api, io) => {
  const { values } = parseArgs({
    args,
    options: {
      group: { type: "string" },
      ttl: { type: "string" },
      "max-uses": { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (!values.group) throw new CliError("token create needs --group NAME", 2);
  const body = {
    group: values.group,
    ...(values.ttl ? { ttlSeconds: Number(values.ttl) } : {}),
    ...(values["max-uses"] ? { maxUses: Number(values["max-uses"]) } : {}),
  };
  const created = await (await api()).call<{ token: string; expiresAt: string }>(
    "POST",
    "/api/v1/enrolment-tokens",
    body,
  );
  io.stdout(values.json ? `${JSON.stringify(created)}\n` : `${created.token}\n`);
  return 0;
};

const deviceList: Command = async (args, api, io) => {
  const { values } = parseArgs({
    args,
    options: {
      group: { type: "string" },
      status: { type: "string" },
      json: { type: "boolean" },
      limit: { type: "string" },
    },
  });
  const query = new URLSearchParams();
  if (values.group) query.set("group", values.group);
  if (values.status) query.set("status", values.status);
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
  const [id] = args;
  if (!id) throw new CliError("device show needs an ID", 2);
  io.stdout(
    `${JSON.stringify(await (await api()).call("GET", `/api/v1/devices/${encodeURIComponent(id)}`), null, 2)}\n`,
  );
  return 0;
};

const groupList: Command = async (_args, api, io) => {
  const groups = await (await api()).call<{ items: { name: string; id: string }[] }>("GET", "/api/v1/groups");
  io.stdout(
    `${table(
      ["GROUP", "ID"],
      groups.items.map((g) => [g.name, g.id]),
    )}\n`,
  );
  return 0;
};

const groupCreate: Command = async (args, api, io) => {
  const [name] = args;
  if (!name) throw new CliError("group create needs a NAME", 2);
  const group = await (await api()).call<{ id: string }>("POST", "/api/v1/groups", { name });
  io.stdout(`${group.id}\n`);
  return 0;
};

function basicFromEnv(env: NodeJS.ProcessEnv): string {
  if (!env.BULWARK_USERNAME || !env.BULWARK_PASSWORD)
    throw new CliError("set BULWARK_USERNAME and BULWARK_PASSWORD", 2);
  return `Basic ${Buffer.from(`${env.BULWARK_USERNAME}:${env.BULWARK_PASSWORD}`).toString("base64")}`;
}

const passwordChange: Command = async (_args, api, io) => {
  if (!io.env.BULWARK_NEW_PASSWORD) throw new CliError("set BULWARK_NEW_PASSWORD", 2);
  await (await api()).call(
    "POST",
    "/api/v1/me/password",
    { newPassword: io.env.BULWARK_NEW_PASSWORD },
    basicFromEnv(io.env),
  );
  io.stdout("password changed\n");
  return 0;
};

const apiKeyCreate: Command = async (args, api, io) => {
  const { values } = parseArgs({
    args,
    options: { name: { type: "string" }, role: { type: "string" }, "expires-in-days": { type: "string" } },
  });
  if (!values.name) throw new CliError("api-key create needs --name", 2);
  const auth = io.env.BULWARK_API_KEY ? undefined : basicFromEnv(io.env);
  const body = {
    name: values.name,
    ...(values.role ? { role: values.role } : {}),
    ...(values["expires-in-days"] ? { expiresInDays: Number(values["expires-in-days"]) } : {}),
  };
  const created = await (await api()).call<{ key: string }>("POST", "/api/v1/api-keys", body, auth);
  io.stdout(`${created.key}\n`);
  return 0;
};

export const COMMANDS: Record<string, Command> = {
  "token create": tokenCreate,
  "device list": deviceList,
  "device show": deviceShow,
  "group list": groupList,
  "group create": groupCreate,
  "password change": passwordChange,
  "api-key create": apiKeyCreate,
  ...SOFTWARE_COMMANDS,
};
