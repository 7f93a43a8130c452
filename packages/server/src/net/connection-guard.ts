import type { BlockList, Socket } from "node:net";
import type { Server, TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { clientKey, inSet, plainAddress } from "./addresses.ts";
import { readProxyHeader } from "./proxy-protocol.ts";

/** Open client connections across every listener of the process, capped below its descriptor limit. */
export class ConnectionBudget {
  readonly max: number;
  #open = 0;

  constructor(max: number) {
    this.max = max;
  }

  take(): boolean {
    if (this.#open >= this.max) return false;
    this.#open++;
    return true;
  }

  release(): void {
    this.#open--;
  }

  get open(): number {
    return this.#open;
  }
}

export interface GuardOptions {
  /** The listener's name in logs (`mqtt`, `https`). */
  name: string;
  budget: ConnectionBudget;
  /** Concurrent connections per client address (per /64 for IPv6). */
  maxPerAddress: number;
  /** From TCP accept to a completed TLS handshake (the PROXY header included), ms. */
  handshakeTimeoutMs: number;
  /** Load balancers whose connections must start with a PROXY protocol v2 header. */
  proxyFrom?: BlockList;
  /** A further per-address check on each admitted connection (the MQTT port's connection rate). */
  admit?: (key: string) => boolean;
  log: Logger;
}

export interface ClientEndpoint {
  address: string;
  port: number;
}

export type Refusal = "global-cap" | "address-cap" | "rate" | "proxy-header" | "handshake-timeout";

export interface GuardedListener {
  /** Connections open now from the client address `address` (its /64 for IPv6). */
  openFrom(address: string): number;
  /** Connections refused so far, by reason. */
  refused(): Record<Refusal, number>;
  /** Admitted connections whose TLS handshake has not completed yet. */
  handshaking(): number;
}

/**
 * Puts admission in front of a TLS server's handshake: the process-wide cap, the per-address cap
 * and rate, a deadline for the handshake, and the PROXY protocol header from configured balancers.
 * The server's own connection listener gets each admitted socket after the header is consumed, and
 * the TLS socket then reports the client's address (so logs, rate limits, `request.ip` and audit
 * entries see the device, not the balancer). Call it before anything else listens for the server's
 * `connection` event: a listener added later would see raw sockets, header included.
 */
export function guardListener(server: Server, options: GuardOptions): GuardedListener {
  const tlsListeners = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  const perKey = new Map<string, number>();
  // Admitted sockets awaiting their handshake, by the peer the TLS socket will report.
  const handshaking = new Map<string, { client?: ClientEndpoint; timer: NodeJS.Timeout }>();
  const counts: Record<Refusal, number> = {
    "global-cap": 0,
    "address-cap": 0,
    rate: 0,
    "proxy-header": 0,
    "handshake-timeout": 0,
  };
  const refusalLog = new Map<string, number>();
  const peerOf = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;

  function refuse(raw: Socket, reason: Refusal, address: string | undefined, detail?: string): void {
    counts[reason]++;
    raw.destroy();
    // One line per address and reason a minute (one in all for the process-wide cap, which a
    // flood from many addresses reaches): a flood must not become a log flood.
    const key = reason === "global-cap" ? reason : `${reason}|${address}`;
    const now = Date.now();
    if ((refusalLog.get(key) ?? 0) > now - 60_000) return;
    if (refusalLog.size > 10_000) refusalLog.clear();
    refusalLog.set(key, now);
    options.log.warn(
      { listener: options.name, remoteAddress: address, reason, detail },
      "connection refused",
    );
  }

  function accept(raw: Socket): void {
    raw.on("error", () => {}); // a reset before or during the handshake is not the server's error
    const balancer = raw.remoteAddress;
    // Already reset by the peer: nothing to serve, and no peer to match its handshake by.
    if (balancer === undefined || raw.remotePort === undefined) {
      raw.destroy();
      return;
    }
    if (!options.budget.take()) {
      refuse(raw, "global-cap", balancer);
      return;
    }
    const peer = peerOf(raw);
    const timer = setTimeout(() => refuse(raw, "handshake-timeout", balancer), options.handshakeTimeoutMs);
    raw.once("close", () => {
      options.budget.release();
      clearTimeout(timer);
      handshaking.delete(peer);
    });
    if (options.proxyFrom && inSet(options.proxyFrom, balancer))
      readHeader(raw, (client) => admit(raw, peer, timer, client));
    else admit(raw, peer, timer, undefined);
  }

  // proxy-protocol.txt §2: from a balancer the header is required and is read before anything
  // else; it may arrive in pieces within the handshake deadline, and anything else is refused.
  function readHeader(raw: Socket, done: (client: ClientEndpoint | undefined) => void): void {
    let bytes = Buffer.alloc(0);
    const onReadable = () => {
      for (let chunk = raw.read() as Buffer | null; chunk !== null; chunk = raw.read() as Buffer | null) {
        bytes = Buffer.concat([bytes, chunk]);
        const header = readProxyHeader(bytes);
        if (header.kind === "incomplete") continue;
        raw.removeListener("readable", onReadable);
        if (header.kind === "invalid") return refuse(raw, "proxy-header", raw.remoteAddress, header.reason);
        const rest = bytes.subarray(header.length);
        if (rest.length > 0) raw.unshift(rest);
        // §2.2: LOCAL (and the families without an IP address) keep the real endpoints.
        return done(header.kind === "proxy" ? header.source : undefined);
      }
    };
    raw.on("readable", onReadable);
  }

  function admit(raw: Socket, peer: string, timer: NodeJS.Timeout, client: ClientEndpoint | undefined): void {
    const address = plainAddress(client?.address ?? raw.remoteAddress ?? "unknown");
    const key = clientKey(address);
    const open = perKey.get(key) ?? 0;
    const refusal =
      open >= options.maxPerAddress ? "address-cap" : options.admit?.(key) === false ? "rate" : undefined;
    if (refusal) {
      refuse(raw, refusal, address);
      return;
    }
    perKey.set(key, open + 1);
    raw.once("close", () => {
      const left = (perKey.get(key) ?? 1) - 1;
      if (left > 0) perKey.set(key, left);
      else perKey.delete(key);
    });
    handshaking.set(peer, { client: client && { address, port: client.port }, timer });
    for (const listener of tlsListeners) listener.call(server, raw);
  }

  function secured(socket: TLSSocket): void {
    const peer = peerOf(socket);
    const entry = handshaking.get(peer);
    if (!entry) return;
    handshaking.delete(peer);
    clearTimeout(entry.timer);
    if (entry.client) reportAs(socket, entry.client);
  }

  server.on("connection", accept);
  // Before the server's own handler (aedes, Node's HTTP parser) sees the socket.
  server.prependListener("secureConnection", secured);
  return {
    openFrom: (address) => perKey.get(clientKey(address)) ?? 0,
    refused: () => ({ ...counts }),
    handshaking: () => handshaking.size,
  };
}

/** The TLS socket reports the client behind the balancer as its remote end. */
function reportAs(socket: TLSSocket, client: ClientEndpoint): void {
  const family = client.address.includes(":") ? "IPv6" : "IPv4";
  Object.defineProperties(socket, {
    remoteAddress: { value: client.address, configurable: true },
    remotePort: { value: client.port, configurable: true },
    remoteFamily: { value: family, configurable: true },
  });
}
