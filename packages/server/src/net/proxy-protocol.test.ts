import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { proxyV2Header } from "../../../../test/proxy-helpers.ts";
import { MAX_HEADER_BYTES, readProxyHeader, SIGNATURE } from "./proxy-protocol.ts";

const client = { address: "203.0.113.9", port: 50_123 };
const server = { address: "10.0.0.5", port: 8883 };
const v4 = proxyV2Header(client, server);
const tlsHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]);

/** A header with the given version/command and family/transport bytes and address block. */
const raw = (verCmd: number, famProto: number, block: Buffer) => {
  const fixed = Buffer.from([verCmd, famProto, 0, 0]);
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIGNATURE, fixed, block]);
};

describe("PROXY protocol v2 header (proxy-protocol.txt §2.2)", () => {
  it("reads TCP over IPv4: source and destination, and the header's exact length", () => {
    const header = readProxyHeader(Buffer.concat([v4, tlsHello]));
    assert.deepEqual(header, { kind: "proxy", length: 28, source: client, destination: server });
  });

  it("reads TCP over IPv6 in the form Node reports addresses, IPv4-mapped ones too", () => {
    const six = proxyV2Header({ address: "2001:db8::1:0:0:7", port: 1 }, { address: "2001:db8::2", port: 2 });
    const header = readProxyHeader(six);
    assert.equal(header.kind, "proxy");
    assert.equal(header.kind === "proxy" && header.source.address, "2001:db8::1:0:0:7");
    assert.equal(header.kind === "proxy" && header.destination.address, "2001:db8::2");
    assert.equal(header.kind === "proxy" && header.length, 16 + 36);
    const mapped = readProxyHeader(proxyV2Header({ address: "::ffff:c000:221", port: 1 }, server));
    assert.equal(mapped.kind === "proxy" && mapped.source.address, "::ffff:192.0.2.33");
  });

  it("skips well-formed TLVs and counts them in the length", () => {
    const tlvs = Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x00, 0x00]);
    const header = readProxyHeader(proxyV2Header(client, server, tlvs));
    assert.equal(header.kind === "proxy" && header.length, 28 + tlvs.length);
  });

  it("LOCAL (a balancer's health check) keeps the real endpoints, whatever its address block says", () => {
    assert.deepEqual(readProxyHeader(raw(0x20, 0x00, Buffer.alloc(0))), { kind: "local", length: 16 });
    // §2.2: receivers must skip `len` bytes and not assume zero for LOCAL.
    assert.deepEqual(readProxyHeader(raw(0x20, 0x11, Buffer.alloc(12, 7))), { kind: "local", length: 28 });
  });

  it("PROXY with AF_UNSPEC or AF_UNIX keeps the real endpoints", () => {
    assert.deepEqual(readProxyHeader(raw(0x21, 0x00, Buffer.alloc(0))), { kind: "local", length: 16 });
    assert.deepEqual(readProxyHeader(raw(0x21, 0x31, Buffer.alloc(216))), { kind: "local", length: 232 });
  });

  it("is incomplete until the whole header has arrived, one byte at a time", () => {
    for (let n = 0; n < v4.length; n++)
      assert.deepEqual(readProxyHeader(v4.subarray(0, n)), { kind: "incomplete" }, `${n} bytes`);
    assert.equal(readProxyHeader(v4).kind, "proxy");
  });

  const refused: [string, Buffer, RegExp][] = [
    ["a TLS ClientHello (no header)", tlsHello, /not a PROXY protocol v2 header/],
    ["a version 1 text header", Buffer.from("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), /not a PROXY/],
    [
      "a signature wrong in its last byte",
      Buffer.concat([SIGNATURE.subarray(0, 11), Buffer.from([0x0b])]),
      /not a PROXY/,
    ],
    ["version 1 in the binary form", raw(0x11, 0x11, Buffer.alloc(12)), /unsupported version 1/],
    ["version 3", raw(0x31, 0x11, Buffer.alloc(12)), /unsupported version 3/],
    ["command 2", raw(0x22, 0x11, Buffer.alloc(12)), /unassigned command 2/],
    ["command 15", raw(0x2f, 0x11, Buffer.alloc(12)), /unassigned command 15/],
    ["address family 4", raw(0x21, 0x41, Buffer.alloc(12)), /unspecified address family 4/],
    ["transport 3", raw(0x21, 0x13, Buffer.alloc(12)), /unspecified transport 3/],
    ["UDP over IPv4", raw(0x21, 0x12, Buffer.alloc(12)), /datagram/],
    ["IPv4 with transport UNSPEC", raw(0x21, 0x10, Buffer.alloc(12)), /without the STREAM transport/],
    ["an IPv4 block of 11 bytes", raw(0x21, 0x11, Buffer.alloc(11)), /11 bytes, 12 needed/],
    ["an IPv6 block of 12 bytes", raw(0x21, 0x21, Buffer.alloc(12)), /12 bytes, 36 needed/],
    ["an AF_UNIX block of 200 bytes", raw(0x21, 0x31, Buffer.alloc(200)), /AF_UNIX/],
    [
      "a TLV cut in its header",
      raw(0x21, 0x11, Buffer.concat([Buffer.alloc(12), Buffer.from([4, 0])])),
      /TLV/,
    ],
    [
      "a TLV longer than the header",
      raw(0x21, 0x11, Buffer.concat([Buffer.alloc(12), Buffer.from([4, 0, 9, 1])])),
      /TLV/,
    ],
  ];
  for (const [what, bytes, reason] of refused)
    it(`refuses ${what}`, () => {
      const header = readProxyHeader(bytes);
      assert.equal(header.kind, "invalid");
      assert.match(header.kind === "invalid" ? header.reason : "", reason);
    });

  it(`refuses a header announcing more than ${MAX_HEADER_BYTES} bytes as soon as its length is read`, () => {
    const fixed = Buffer.from([0x21, 0x11, 0xff, 0xff]);
    const header = readProxyHeader(Buffer.concat([SIGNATURE, fixed]));
    assert.equal(header.kind, "invalid");
    assert.equal(
      readProxyHeader(Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x0f, 0xf0])])).kind,
      "incomplete",
    );
  });

  it("never reads past the buffer: every truncation and every single-byte change of a header", () => {
    const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]);
    const full = Buffer.concat([proxyV2Header(client, server, tlvs), tlsHello]);
    for (let n = 0; n <= full.length; n++) readProxyHeader(full.subarray(0, n));
    for (let i = 0; i < full.length; i++)
      for (const value of [0x00, 0x01, 0x20, 0x7f, 0xff]) {
        const changed = Buffer.from(full);
        changed[i] = value;
        const header = readProxyHeader(changed);
        if (header.kind === "proxy" || header.kind === "local")
          assert.ok(header.length <= changed.length, `byte ${i} = ${value}`);
      }
  });
});
