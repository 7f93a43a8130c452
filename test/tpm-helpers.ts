import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TpmOptions } from "../packages/agent/src/tpm-kek.ts";

/** Why the TPM tests cannot run here, if they cannot. */
export function missingTools(): string | undefined {
  for (const tool of ["swtpm", "tpm2_createprimary", "tpm2_unseal"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed (apt-get install swtpm swtpm-tools tpm2-tools)`;
    }
  }
  return undefined;
}

/** Two adjacent free loopback ports (swtpm's TCTI puts the control channel on port + 1), found by binding port 0. */
async function freePortPair(): Promise<number> {
  const listen = (port: number) =>
    new Promise<ReturnType<typeof createServer> | undefined>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(undefined));
      s.listen(port, "127.0.0.1", () => resolve(s));
    });
  for (;;) {
    const first = (await listen(0))!;
    const port = (first.address() as { port: number }).port;
    const second = port < 65535 ? await listen(port + 1) : undefined;
    await new Promise((r) => first.close(r));
    if (second) {
      await new Promise((r) => second.close(r));
      return port;
    }
  }
}

const reachable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/** A software TPM 2.0 (swtpm) on loopback, its state in a temporary directory. */
export async function startSwtpm(): Promise<{ tpm: TpmOptions; process: ChildProcess }> {
  const port = await freePortPair();
  const state = mkdtempSync(join(tmpdir(), "bulwark-swtpm-"));
  const child = spawn(
    "swtpm",
    [
      "socket",
      "--tpm2",
      "--server",
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      "--ctrl",
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      "--tpmstate",
      `dir=${state}`,
      "--flags",
      "not-need-init,startup-clear",
    ],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 200 && !(await reachable(port)); i++) await new Promise((r) => setTimeout(r, 25));
  return { tpm: { tcti: `swtpm:host=127.0.0.1,port=${port}` }, process: child };
}
