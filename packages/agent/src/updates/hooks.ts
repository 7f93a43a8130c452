import { execFile } from "node:child_process";

/** Runs an operator-configured command (argv array, no shell) with a time limit; resolves with its exit code. */
export function runCommand(
  argv: string[],
  env: Record<string, string>,
  timeoutMs = 300_000,
): Promise<{ code: number; output: string }> {
  const [file, ...args] = argv;
  if (!file) return Promise.resolve({ code: 0, output: "" });
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.slice(-500) });
    });
  });
}
