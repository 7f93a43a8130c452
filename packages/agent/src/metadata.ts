import { readFileSync } from "node:fs";
import { networkInterfaces, platform, release, uptime } from "node:os";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import agentPackage from "../package.json" with { type: "json" };
import { ownListeningPorts } from "./sockets.ts";

// Imported (not read at run time) so that the single-file build carries it.
export const AGENT_VERSION: string = agentPackage.version;

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
 * and software, nothing about its users. `listeningPorts` are the agent's own, read from procfs
 * (it opens none: Annex I Part I (2)(j)); `agentIntegrity` says whether its encrypted store found
 * tampering since it started (Annex I Part I (2)(f)).
 */
export function collectMetadata(overrides: Partial<DeviceMetadata> = {}): DeviceMetadata {
  const os = osRelease();
  const metadata: DeviceMetadata = {
    model: overrides.model ?? "generic-linux",
    osName: os.name,
    osVersion: os.version,
    agentVersion: AGENT_VERSION,
    mac: overrides.mac ?? primaryMac(),
    listeningPorts: ownListeningPorts(),
    bootTime: new Date(Date.now() - uptime() * 1000).toISOString(),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined)) as DeviceMetadata;
}
