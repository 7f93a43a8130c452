import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP relay between one agent and the server's MQTT port. The traffic is TLS, so it cuts links,
 * not packets: "mute" drops what the device sends (a link that died under it: nothing reaches the
 * server), "deaf" lets the device's next bytes through and from then on drops what the server sends
 * on that connection (the server has the message, its PUBACK never arrives). `cut` ends every
 * connection and lets the next ones through as they are.
 */
export async function linkRelay(target: number) {
  let mode: "pass" | "mute" | "deaf" = "pass";
  let connections = 0;
  const open = new Set<{ device: Socket; server: Socket }>();
  const relay = createServer((device) => {
    connections++;
    const server = connect({ host: "127.0.0.1", port: target });
    const pair = { device, server };
    open.add(pair);
    let deaf = false;
    for (const s of [device, server]) s.on("error", () => {});
    // A side that closes ends the other after what was relayed is written (a PUBACK just before the
    // server closes the connection still arrives); `cut` destroys both at once.
    device.on("close", () => {
      server.end();
      open.delete(pair);
    });
    server.on("close", () => device.end());
    device.on("data", (chunk: Buffer) => {
      if (mode === "mute") return;
      if (mode === "deaf") deaf = true;
      server.write(chunk);
    });
    server.on("data", (chunk: Buffer) => {
      if (!deaf) device.write(chunk);
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    port: (relay.address() as { port: number }).port,
    connections: () => connections,
    set(next: "mute" | "deaf") {
      mode = next;
    },
    cut() {
      mode = "pass";
      for (const { device, server } of open) {
        device.destroy();
        server.destroy();
      }
    },
    close: () => new Promise<void>((resolve) => relay.close(() => resolve())),
  };
}
