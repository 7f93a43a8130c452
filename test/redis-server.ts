import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { TestContext } from "node:test";

const REDIS_SERVER = process.env.BULWARK_TEST_REDIS_SERVER ?? "/usr/bin/redis-server";

/** A Redis of the test's own, which it may kill and bring back on the same port. */
export interface OwnRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: no goodbye to its clients) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts a fresh, empty server on the same port. */
  start(): Promise<void>;
}

/** A free TCP port on loopback (redis-server has no `--port 0`): bind port 0, note it, let it go. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || !address) throw new Error("no port");
  return address.port;
}

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });

/**
 * Starts a redis-server on a free loopback port, without persistence (a restart comes back empty,
 * as after a crash without a dump). Without the binary the test is skipped with the reason printed,
 * unless BULWARK_REQUIRE_SERVICES=1 (CI), where it fails. Stopped when the test ends.
 */
export async function ownRedis(t: TestContext): Promise<OwnRedis | undefined> {
  if (!existsSync(REDIS_SERVER)) {
    const reason = `${REDIS_SERVER} is not installed`;
    if (process.env.BULWARK_REQUIRE_SERVICES === "1") throw new Error(reason);
    process.stdout.write(`# skipped: ${reason}\n`);
    t.skip(reason);
    return undefined;
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  const start = async () => {
    const output: string[] = [];
    const started = spawn(
      REDIS_SERVER,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = started;
    for (const stream of [started.stdout!, started.stderr!])
      stream.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    const deadline = Date.now() + 10_000;
    while (!(await accepting(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited: ${output.join("")}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await start();
  t.after(kill);
  return { url: `redis://127.0.0.1:${port}`, port, kill, start };
}
