import { connect, createServer, type Server, type Socket } from "node:net";
import { SIGNATURE } from "../packages/server/src/net/proxy-protocol.ts";

export interface Endpoint {
  address: string;
  port: number;
}

/** A PROXY protocol v2 header (haproxy's proxy-protocol.txt §2.2) for TCP over IPv4 or IPv6. */
export function proxyV2Header(source: Endpoint, destination: Endpoint, tlvs = Buffer.alloc(0)): Buffer {
  const v6 = source.address.includes(":");
  const size = v6 ? 16 : 4;
  const block = Buffer.alloc(2 * size + 4);
  addressBytes(source.address, size).copy(block, 0);
  addressBytes(destination.address, size).copy(block, size);
  block.writeUInt16BE(source.port, 2 * size);
  block.writeUInt16BE(destination.port, 2 * size + 2);
  const fixed = Buffer.from([0x21, v6 ? 0x21 : 0x11, 0, 0]);
  fixed.writeUInt16BE(block.length + tlvs.length, 2);
  return Buffer.concat([SIGNATURE, fixed, block, tlvs]);
}

function addressBytes(address: string, size: 4 | 16): Buffer {
  if (size === 4) return Buffer.from(address.split(".").map(Number));
  const parts = (s: string | undefined) => (s ? s.split(":") : []);
  const [head, tail] = address.split("::");
  const zeros = address.includes("::") ? 8 - parts(head).length - parts(tail).length : 0;
  const groups = [...parts(head), ...Array<string>(zeros).fill("0"), ...parts(tail)];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), 2 * i);
  return out;
}

/**
 * A TCP load balancer on loopback: every connection to it is relayed to `target` from
 * `balancerAddress`, preceded by a v2 header naming `clientAddress` (or by `header()` when given).
 */
export async function startBalancer(options: {
  target: Endpoint;
  balancerAddress: string;
  clientAddress: string;
  header?: () => Buffer;
}): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect({
      host: options.target.address,
      port: options.target.port,
      localAddress: options.balancerAddress,
    });
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {});
    }
    outbound.once("connect", () => {
      const source = { address: options.clientAddress, port: inbound.remotePort ?? 0 };
      outbound.write(options.header?.() ?? proxyV2Header(source, options.target));
      inbound.pipe(outbound).pipe(inbound);
    });
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
