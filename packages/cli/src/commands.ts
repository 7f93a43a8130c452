import { parseArgs } from "node:util";
import { ACCESS_COMMANDS } from "./access-commands.ts";
import { type ApiClient, CliError } from "./client.ts";
import { FLEET_COMMANDS } from "./fleet-commands.ts";
import { PKI_COMMANDS } from "./pki-commands.ts";
import { SOFTWARE_COMMANDS } from "./software-commands.ts";
import { UPDATE_COMMANDS } from "./update-commands.ts";

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

export const COMMANDS: Record<string, Command> = {
  "token create": tokenCreate,
  ...ACCESS_COMMANDS,
  ...FLEET_COMMANDS,
  ...PKI_COMMANDS,
  ...SOFTWARE_COMMANDS,
  ...UPDATE_COMMANDS,
};
