import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { it } from "node:test";
import pino from "pino";
import { logListenerErrors } from "./listener-errors.ts";

it("an error a listening server emits (a failed accept) is logged, and the server goes on accepting", async (t) => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const server = createServer((socket) => socket.end("hello"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  logListenerErrors(server, log, "mqtt");

  // What net.Server does when accept(2) fails (lib/net.js onconnection): emit 'error', keep the handle.
  const accept = Object.assign(new Error("accept ENFILE"), { code: "ENFILE", syscall: "accept" });
  server.emit("error", accept);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.listener]),
    [["listener error; still listening", "mqtt"]],
  );
  const address = server.address();
  assert.ok(typeof address === "object" && address);
  const greeting = await new Promise<string>((resolve, reject) => {
    const socket = connect(address.port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  assert.equal(greeting, "hello");
});
