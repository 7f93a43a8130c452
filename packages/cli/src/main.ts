#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseErrorLine } from "./args.ts";
import { apiClient, CliError, ProblemError } from "./client.ts";
import { COMMAND_FIELDS, COMMANDS } from "./commands.ts";
import { problemLine } from "./problems.ts";
import { runScan } from "./scan/run.ts";
import { USAGE, usageOf } from "./usage.ts";

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

const HELP = new Set(["--help", "-h", "help"]);

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** The command named by the first one or two words of `argv`, or undefined. */
export function commandName(argv: string[]): string | undefined {
  const two = argv.slice(0, 2).join(" ");
  if (argv.length >= 2 && COMMANDS[two]) return two;
  return argv[0] && COMMANDS[argv[0]] ? argv[0] : undefined;
}

/** One line for what is not a command: an option, a group's unknown verb, or an unknown word. */
function unknownCommand(argv: string[]): string {
  const [first = "", second] = argv;
  if (first.startsWith("-")) return `unknown option ${first.split("=")[0]}`;
  const isGroup = Object.keys(COMMANDS).some((name) => name.startsWith(`${first} `));
  if (isGroup && second !== undefined) return `unknown command "${first} ${second}"`;
  if (isGroup) return `"${first}" needs a subcommand`;
  return `unknown command "${first}"`;
}

/** Exit codes: 0 success, 1 refused or failed, 2 bad usage. Help goes to stdout, errors to stderr. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Output = processOutput,
): Promise<number> {
  const first = argv[0];
  if (argv.length === 0 || (first !== undefined && HELP.has(first))) {
    out.stdout(`${USAGE}\n`);
    return 0;
  }
  if (first === "--version" || first === "-V") {
    out.stdout(`bulwark ${version()}\n`);
    return 0;
  }
  // `scan` works offline with no server (CI/CD use): it has its own argument parser and exit codes.
  if (first === "scan") return runScan(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  const name = commandName(argv);
  if (!name) {
    out.stderr(`bulwark: ${unknownCommand(argv)} (bulwark --help lists the commands)\n`);
    return 2;
  }
  const args = argv.slice(name.split(" ").length);
  if (args.some((a) => a === "--help" || a === "-h")) {
    out.stdout(usageOf(name));
    return 0;
  }
  try {
    return await COMMANDS[name]!(args, () => apiClient(env), { stdout: out.stdout, env });
  } catch (error) {
    const usage = parseErrorLine(error);
    if (usage !== undefined) {
      out.stderr(`bulwark ${name}: ${usage} (bulwark ${name} --help)\n`);
      return 2;
    }
    if (error instanceof ProblemError && error.problem) {
      out.stderr(`bulwark ${name}: ${problemLine(error.problem, COMMAND_FIELDS[name])}\n`);
      return 1;
    }
    out.stderr(`bulwark ${name}: ${(error as Error).message}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
