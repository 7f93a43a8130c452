import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * The sockets a process holds, from Linux procfs: its descriptors (`/proc/PID/fd`, links named
 * `socket:[inode]`) matched against the kernel's socket tables (`/proc/PID/net/{tcp,tcp6,udp,udp6}`,
 * which list every socket of the network namespace, so only the process's own inodes count).
 * The agent reports its own listening ports with this (CRA Annex I Part I (2)(j): limit attack
 * surfaces), and the hardening test checks the agent listens on none.
 */
export interface ProcessSocket {
  protocol: "tcp" | "tcp6" | "udp" | "udp6";
  localPort: number;
  remotePort: number;
  /** tcp: the kernel's state (0A is LISTEN, 01 ESTABLISHED); udp: 07 for a bound socket. */
  state: string;
  listening: boolean;
}

const TABLES = ["tcp", "tcp6", "udp", "udp6"] as const;
const TCP_LISTEN = "0A";

/** Socket inodes among the process's open descriptors. */
export function socketInodes(pid: number | "self" = "self"): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while we looked
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  return inodes;
}

/** The process's IP sockets; a UDP socket bound to a port counts as listening (it receives from anyone). */
export function processSockets(pid: number | "self" = "self"): ProcessSocket[] {
  const inodes = socketInodes(pid);
  const found: ProcessSocket[] = [];
  for (const protocol of TABLES) {
    let table: string;
    try {
      table = readFileSync(`/proc/${pid}/net/${protocol}`, "utf8");
    } catch {
      continue; // no IPv6 on this kernel
    }
    for (const line of table.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const localPort = Number.parseInt(f[1]!.split(":")[1]!, 16);
      const remotePort = Number.parseInt(f[2]!.split(":")[1]!, 16);
      const udp = protocol.startsWith("udp");
      const listening = udp ? localPort !== 0 && remotePort === 0 : f[3] === TCP_LISTEN;
      found.push({ protocol, localPort, remotePort, state: f[3]!, listening });
    }
  }
  return found;
}

/** Ports this process accepts connections or datagrams on (sorted, unique); undefined where there is no procfs. */
export function ownListeningPorts(pid: number | "self" = "self"): number[] | undefined {
  try {
    const ports = processSockets(pid)
      .filter((s) => s.listening)
      .map((s) => s.localPort);
    return [...new Set(ports)].sort((a, b) => a - b);
  } catch {
    return undefined;
  }
}
