import { readFileSync } from "node:fs";
import { networkInterfaces, platform, release, uptime } from "node:os";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";

export const AGENT_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

function osRelease(): { name?: string; version?: string } {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    const field = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?$`, "m").exec(text)?.[1];
    return { name: field("NAME"), version: field("VERSION_ID") };
  } catch {
    return { name: platform(), version: release() };
  }
}

function primaryMac(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    const external = addresses?.find((a) => !a.internal && a.mac !== "00:00:00:00:00:00");
    if (external) return external.mac;
  }
  return undefined;
}

/**
 * The minimal metadata this device reports (CRA Annex I Part I (2)(g)): identity of the product
 * and software, nothing about its users. The agent itself listens on no port (Annex I Part I (2)(j)).
 */
export function collectMetadata(overrides: Partial<DeviceMetadata> = {}): DeviceMetadata {
  const os = osRelease();
  const metadata: DeviceMetadata = {
    model: overrides.model ?? "generic-linux",
    osName: os.name,
    osVersion: os.version,
    agentVersion: AGENT_VERSION,
    mac: overrides.mac ?? primaryMac(),
    listeningPorts: [],
    bootTime: new Date(Date.now() - uptime() * 1000).toISOString(),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined)) as DeviceMetadata;
}
