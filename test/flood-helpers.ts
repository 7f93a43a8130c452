import { connect, type Socket } from "node:net";

/** Idle TCP connections that never send a byte (no ClientHello), as a descriptor-exhaustion attacker holds them. */
export interface IdleFlood {
  attempted: number;
  /** Connections the server has closed so far. */
  closedByServer(): number;
  /** Connections still open now. */
  open(): number;
  /** Resolves once the server has closed `n` of them. */
  closedAtLeast(n: number, timeoutMs: number): Promise<void>;
  destroy(): void;
}

/**
 * Opens `count` idle connections from `localAddress` to `port` on 127.0.0.1, `batch` at a time.
 * Bounded by construction: a fixed number of sockets, each destroyed by `destroy()` or the server.
 */
export async function idleFlood(options: {
  port: number;
  localAddress: string;
  count: number;
  batch?: number;
}): Promise<IdleFlood> {
  const sockets: Socket[] = [];
  let closed = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const onClose = () => {
    closed++;
    for (const w of waiters.filter((w) => closed >= w.n)) w.resolve();
  };
  const batch = options.batch ?? 50;
  for (let started = 0; started < options.count; started += batch) {
    const round = Array.from({ length: Math.min(batch, options.count - started) }, () => {
      const socket = connect({ host: "127.0.0.1", port: options.port, localAddress: options.localAddress });
      sockets.push(socket);
      socket.on("error", () => {});
      socket.once("close", onClose);
      return new Promise<void>((resolve) => {
        socket.once("connect", () => resolve());
        socket.once("close", () => resolve());
      });
    });
    await Promise.all(round);
  }
  return {
    attempted: options.count,
    closedByServer: () => closed,
    open: () => options.count - closed,
    closedAtLeast: (n, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        if (closed >= n) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`only ${closed} of ${n} idle connections closed by the server`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
    destroy: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
