import { main } from "../packages/agent/src/main.ts";

/** Runs the agent's command line in this process, its output captured: exit code, stdout, stderr. */
export async function runAgentMain(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}
