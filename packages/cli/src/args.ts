import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { CliError } from "./client.ts";

/**
 * A command's arguments, parsed strictly (node:util parseArgs): an unknown option, an option
 * without its value and more than `max` positional arguments are refused (exit 2). Too few
 * positionals are left to the command, which names what it needs.
 */
export function parse<const O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  positionals: { max?: number } = {},
) {
  const parsed = parseArgs({ args, options, allowPositionals: true as const, strict: true as const });
  const max = positionals.max ?? 0;
  if (parsed.positionals.length > max)
    throw new CliError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`, 2);
  return parsed;
}

/** `parse` for a command with no options: its positionals, at most `max` of them. */
export function onlyPositionals(args: string[], max: number): string[] {
  return parse(args, {}, { max }).positionals;
}

/** node:util parseArgs errors as one short line ("unknown option --foo"); undefined for others. */
export function parseErrorLine(error: unknown): string | undefined {
  const { code, message } = error as { code?: unknown; message?: string };
  if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS")) return undefined;
  const quoted = /'([^']*)'/.exec(message ?? "")?.[1] ?? "";
  const option = quoted.split(" ")[0] ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing/.test(message ?? "")
        ? `${option} needs a value`
        : `${option} does not take a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${JSON.stringify(quoted)}`;
    default:
      return message;
  }
}

/** A whole-number option (`--ttl 3600`), checked here so that "abc" is not sent as null; undefined when absent. */
export function wholeNumber(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()))
    throw new CliError(`${option} must be a whole number, got "${value}"`, 2);
  return Number(value);
}

/** A number option that may have a fraction (`--validity-days 0.5`); undefined when absent. */
export function decimalNumber(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(value.trim()))
    throw new CliError(`${option} must be a number, got "${value}"`, 2);
  return Number(value);
}
