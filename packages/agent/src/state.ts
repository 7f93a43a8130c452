import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What an enrolled agent keeps in its state directory (0700); its secrets are in the store (device-store.ts). */
export interface AgentState {
  serverUrl: string;
  mqttUrl: string;
  deviceId: string;
  rootFingerprint: string;
  enrolledAt: string;
}

export const statePaths = (dir: string) => ({
  dir,
  state: join(dir, "agent.json"),
  cert: join(dir, "device.cert.pem"),
  chain: join(dir, "chain.pem"),
  ca: join(dir, "ca.pem"),
});

export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Writes through a temporary file and a rename, so a crash never leaves half a file. */
export function writeAtomic(path: string, content: string | Uint8Array, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function readState(dir: string): AgentState {
  const paths = statePaths(dir);
  if (!existsSync(paths.state))
    throw new Error(`not enrolled: no ${paths.state} (run "bulwark-agent enroll" first)`);
  return JSON.parse(readFileSync(paths.state, "utf8")) as AgentState;
}
