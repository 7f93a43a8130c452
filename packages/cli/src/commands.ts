import { ACCESS_COMMANDS } from "./access-commands.ts";
import { parse, wholeNumber } from "./args.ts";
import { CliError } from "./client.ts";
import type { Command } from "./command.ts";
import { CRA_COMMANDS } from "./cra-commands.ts";
import { FLEET_COMMANDS } from "./fleet-commands.ts";
import { PKI_COMMANDS } from "./pki-commands.ts";
import type { FieldWords } from "./problems.ts";
import { SOFTWARE_COMMANDS } from "./software-commands.ts";
import { UPDATE_COMMANDS } from "./update-commands.ts";

const tokenCreate: Command = async (args, api, io) => {
  const { values } = parse(args, {
    group: { type: "string" },
    ttl: { type: "string" },
    "max-uses": { type: "string" },
    json: { type: "boolean" },
  });
  if (!values.group) throw new CliError("token create needs --group NAME", 2);
  const body = {
    group: values.group,
    ...(values.ttl ? { ttlSeconds: wholeNumber(values.ttl, "--ttl") } : {}),
    ...(values["max-uses"] ? { maxUses: wholeNumber(values["max-uses"], "--max-uses") } : {}),
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
  ...CRA_COMMANDS,
};

/**
 * Request fields a command takes as a positional argument or under another option name, so that
 * the server's validation errors name what the user typed (problems.ts has the common ones).
 */
export const COMMAND_FIELDS: Record<string, FieldWords> = {
  "group create": { name: { option: "NAME" } },
  "product create": { name: { option: "NAME" } },
  "user create": { username: { option: "NAME" }, role: { option: "--role" } },
  "user role": { role: { option: "ROLE" } },
  "release create": { version: { option: "VERSION" } },
  "product update": { delta: { option: "--delta" } },
  "operator-cert issue": { validityDays: { option: "--days", unit: "days" } },
  "group set-policy": { policy: { option: "POLICY" } },
  "cert revoke": { reason: { option: "--reason" } },
  "serial register": { serialNumber: { option: "SERIAL" } },
};
