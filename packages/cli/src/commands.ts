import { parseArgs } from "node:util";
import { type ApiClient, CliError } from "./client.ts";
import { FLEET_COMMANDS } from "./fleet-commands.ts";

export interface Io {
  stdout: (text: string) => void;
  env: NodeJS.ProcessEnv;
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
  "password change": passwordChange,
  "api-key create": apiKeyCreate,
  ...FLEET_COMMANDS,
};
