import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { MqttClient } from "mqtt";
import { type EnrolledDevice, enrolDirect } from "../../../../test/enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";

// Issue #5 item 9: ≥ 100,000 hostile MQTT packet streams straight into broker.handle (no TLS:
// the streams carry a real device certificate as their verified peer, as a TLS socket would).
const STREAMS = Number(process.env.BULWARK_FUZZ_STREAMS ?? 100_000);
const ROUND_STREAMS = 5_000;
const CONCURRENCY = 256;
const PER_CONNECTION = 16;
const SEED = Number(process.env.BULWARK_FUZZ_SEED ?? 0x5eed);

/** Mulberry32: a small seeded PRNG so a failing run can be replayed with BULWARK_FUZZ_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

// MQTT 3.1.1 §1.5.3 strings and §2.2.3 remaining length, written by hand so they can lie.
const str = (s: string | Buffer) => {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}
const packet = (first: number, body: Buffer, length = body.length) =>
  Buffer.concat([Buffer.from([first]), varint(length), body]);

function connect(
  clientId: string | Buffer,
  opts: { keepalive?: number; flags?: number; level?: number; name?: string } = {},
) {
  const ka = opts.keepalive ?? 30;
  return packet(
    0x10,
    Buffer.concat([
      str(opts.name ?? "MQTT"),
      Buffer.from([opts.level ?? 4, opts.flags ?? 0x02, ka >> 8, ka & 0xff]),
      str(clientId),
    ]),
  );
}
const subscribe = (id: number, filter: string | Buffer, qos = 1) =>
  packet(0x82, Buffer.concat([Buffer.from([id >> 8, id & 0xff]), str(filter), Buffer.from([qos])]));
const publish = (topic: string | Buffer, payload: string, flags = 0x02) =>
  packet(
    0x30 | flags,
    Buffer.concat([str(topic), ...(flags & 0x06 ? [Buffer.from([0, 7])] : []), Buffer.from(payload)]),
  );

const INVALID_UTF8 = [
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0x00]),
];

/** Hostile topics and filters: other devices, wildcards, traversal, NUL, ill-formed UTF-8, oversize. */
function targets(rng: Rng, attacker: string, victim: string) {
  const v = deviceTopics(victim);
  const a = deviceTopics(attacker);
  const filters: (string | Buffer)[] = [
    "#",
    "+",
    "bw/#",
    "bw/v1/d/+/cmd",
    "bw/v1/d/#",
    v.cmd,
    v.config,
    `${a.cmd}/#`,
    `bw/v1/d/${attacker}/+`,
    "$SYS/#",
    `bw/v1/d/${attacker}/../${victim}/cmd`,
    `${a.cmd}\u0000`,
    "",
    "a".repeat(300),
    Buffer.concat([Buffer.from(`bw/v1/d/${attacker}/`), rng.pick(INVALID_UTF8)]),
  ];
  const topics: (string | Buffer)[] = [
    v.cmd,
    v.meta,
    a.cmd,
    a.config,
    "#",
    "bw/v1/d/+/meta",
    `${a.meta}/`,
    `${a.events}\u0000x`,
    Buffer.concat([Buffer.from(a.meta), rng.pick(INVALID_UTF8)]),
    a.jobStatus("x/../y"),
    a.jobStatus("j1"),
    a.meta,
  ];
  return { a, filters, topics };
}

/** The opening of a stream: a valid CONNECT, or a bad, lying, truncated or missing one. */
function hostileConnect(
  rng: Rng,
  attacker: string,
  victim: string,
): { first: Buffer; authenticated: boolean } {
  if (rng.chance(0.55)) return { first: connect(attacker), authenticated: true };
  return {
    authenticated: false,
    first: rng.pick([
      () => rng.bytes(1 + rng.int(64)),
      () => connect(victim),
      () => connect(attacker, { keepalive: 0 }),
      () => connect(attacker, { keepalive: 65535 }),
      () => connect(attacker, { level: rng.pick([0, 3, 5, 255]) }),
      () => connect(attacker, { name: rng.pick(["MQIsdp", "MQTT\u0000", "mqtt", ""]) }),
      () => connect(attacker, { flags: rng.pick([0x01, 0xff, 0x04, 0x40, 0x80, 0x3e]) }),
      () => connect(Buffer.concat([Buffer.from(attacker.slice(0, 10)), rng.pick(INVALID_UTF8)])),
      () => connect(attacker).subarray(0, 1 + rng.int(20)),
      () => packet(0x10, connect(attacker).subarray(2), 200 + rng.int(1000)),
      () => Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]),
      () => packet(0x30, Buffer.from("no connect first")),
    ])(),
  };
}

/** One hostile packet stream: 1–6 packets of wildcard tricks, foreign topics, lies and garbage. */
function hostileSequence(rng: Rng, attacker: string, victim: string): Buffer {
  const { a, filters, topics } = targets(rng, attacker, victim);
  const parts: Buffer[] = [];
  const count = 1 + rng.int(6);
  // Four in five streams only probe (refused filters, unsubscribes, pings): the session survives
  // them, so one connection carries several; the rest try something that must close it.
  if (rng.chance(0.8)) {
    for (let i = 0; i < count; i++)
      parts.push(
        rng.pick([
          () =>
            subscribe(1 + rng.int(65535), rng.pick(filters.filter((f) => typeof f === "string")), rng.int(3)),
          () => packet(0xa2, Buffer.concat([Buffer.from([0, 9]), str(rng.pick(filters))])),
          () => Buffer.from([0xc0, 0x00]),
        ])(),
      );
    return Buffer.concat(parts);
  }
  for (let i = 0; i < count; i++)
    parts.push(
      rng.pick([
        () => subscribe(1 + rng.int(65535), rng.pick(filters), rng.int(4)),
        () => subscribe(0, a.cmd),
        () => publish(rng.pick(topics), "x", rng.pick([0x00, 0x02, 0x01, 0x03, 0x06, 0x08])),
        () => publish(a.meta, JSON.stringify({ model: "fuzz", owner: "x".repeat(rng.int(200)) })),
        () => packet(0xa2, Buffer.concat([Buffer.from([0, 9]), str(rng.pick(filters))])),
        () => packet(0x82, Buffer.from([0, 1]), 5000 + rng.int(100_000)),
        () => packet(0x30, Buffer.concat([str(a.meta), Buffer.alloc(10)]), 70_000 + rng.int(1_000_000)),
        () => packet(0x62, Buffer.from([0, rng.int(256)])),
        () => Buffer.from([0xc0, 0x00]),
        () => connect(attacker),
        () => rng.bytes(1 + rng.int(40)),
        () => Buffer.from([0xe0, 0x00]),
      ])(),
    );
  return Buffer.concat(parts);
}

/** An in-memory transport the broker reads hostile bytes from; it presents a device certificate. */
class HostileStream extends Duplex {
  authorized: boolean;
  readonly #peer: { raw: Buffer; subjectaltname: string };
  readonly #onOutput: (chunk: Buffer) => void;
  /** Resolves on the broker's first answer (the CONNACK, when CONNECT passed its checks). */
  readonly answered: Promise<void>;
  #answer!: () => void;
  constructor(
    peer: { raw: Buffer; subjectaltname: string },
    authorized: boolean,
    onOutput: (chunk: Buffer) => void,
  ) {
    super();
    this.authorized = authorized;
    this.#peer = peer;
    this.#onOutput = onOutput;
    this.answered = new Promise((resolve) => {
      this.#answer = resolve;
    });
  }
  override _read() {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.#onOutput(chunk);
    this.#answer();
    done();
  }
  getPeerX509Certificate() {
    return new X509Certificate(this.#peer.raw);
  }
}

describe("MQTT broker fuzz: hostile packet streams", () => {
  let server: TestServer;
  let attacker: EnrolledDevice;
  let victim: EnrolledDevice;
  let victimClient: MqttClient;
  before(async () => {
    server = await startTestServer();
    attacker = await enrolDirect(server, await createToken(server));
    victim = await enrolDirect(server, await createToken(server));
    victimClient = await connectDevice(server, victim);
  });
  after(async () => {
    await victimClient?.endAsync();
    await server.close();
  });

  // The streams run in rounds of ROUND_STREAMS, one test each, so that no test nears the runner's
  // per-test timeout on a loaded machine; each round has its own seed (SEED + round) and checks.
  const rounds = Math.ceil(STREAMS / ROUND_STREAMS);
  let victimListening = false;
  for (let round = 0; round < rounds; round++) {
    const count = Math.min(ROUND_STREAMS, STREAMS - round * ROUND_STREAMS);
    it(`round ${round + 1}/${rounds}: survives ${count} hostile streams and leaks nothing to the victim`, async (t) => {
      const v = deviceTopics(victim.deviceId);
      const victimGot: string[] = [];
      const onMessage = (_topic: string, payload: Buffer) => victimGot.push(payload.toString());
      victimClient.on("message", onMessage);
      t.after(() => victimClient.off("message", onMessage));
      if (!victimListening) await victimClient.subscribeAsync([v.cmd, v.config], { qos: 1 });
      victimListening = true;
      const result = await fuzzRound(SEED + round, count);
      t.diagnostic(
        `${result.streams} hostile streams over ${result.connections} connections (${result.authenticated} past a valid CONNECT) in ${result.seconds.toFixed(1)} s, seed ${SEED + round}, ${result.outputBytes} bytes answered`,
      );
      assert.equal(result.leaks, 0, "no hostile stream ever saw the victim's topics or messages");
      assert.equal(result.unclosed, 0, "every hostile stream was closed by the broker");
      await waitFor("victim received everything sent to it", async () => victimGot.length >= result.sent);
      assert.equal(victimGot.length, result.sent);
      assert.ok(victimClient.connected, "the well-behaved victim stayed connected throughout");
      await waitFor("no fuzz session left behind", async () => server.broker.connectedDevices() === 1);
    });
  }

  /** Runs `count` hostile streams from `seed` while the server keeps talking to the victim. */
  async function fuzzRound(seed: number, count: number) {
    const peer = {
      raw: new X509Certificate(attacker.certPem).raw,
      subjectaltname: `URI:urn:uuid:${attacker.deviceId}`,
    };
    const victimMarker = Buffer.from(victim.deviceId);
    const secret = Buffer.from("victim-secret");
    let leaks = 0;
    let outputBytes = 0;
    const onOutput = (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (chunk.includes(victimMarker) || chunk.includes(secret)) leaks++;
    };
    // While the fuzz runs, the server keeps talking to the victim.
    let sent = 0;
    const chatter = setInterval(() => {
      sent++;
      void server.broker.publish(victim.deviceId, "cmd", { type: "victim-secret", n: sent });
    }, 25);

    const rng = prng(seed);
    let authenticated = 0;
    let unclosed = 0;
    const started = performance.now();
    let connections = 0;
    let streams = 0;
    // One connection carries hostile streams until the broker closes it (most do at once).
    async function one(): Promise<void> {
      connections++;
      streams++;
      const { first, authenticated: good } = hostileConnect(rng, attacker.deviceId, victim.deviceId);
      if (good) authenticated++;
      const stream = new HostileStream(peer, rng.chance(0.97), onOutput);
      const done = new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          unclosed++;
          stream.destroy();
          resolve();
        }, 15_000);
        stream.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      server.broker.handle(stream);
      // The first packet, split at a random point: parsers must cope with packets across reads.
      const cut = rng.int(first.length + 1);
      stream.push(first.subarray(0, cut));
      setImmediate(() => stream.push(first.subarray(cut)));
      // Hostile packets follow once the broker answered (or gave up on) the CONNECT.
      if (good) await Promise.race([stream.answered, done]);
      else await new Promise((r) => setImmediate(r));
      // The opening plus its first sequence count as one stream; each further sequence as another.
      for (let i = 0; i < PER_CONNECTION && !stream.destroyed && (i === 0 || streams < count); i++) {
        if (i > 0) streams++;
        stream.push(hostileSequence(rng, attacker.deviceId, victim.deviceId));
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
      }
      if (!stream.destroyed) stream.push(null);
      await done;
    }
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (streams < count) await one();
      }),
    );
    clearInterval(chatter);
    const seconds = (performance.now() - started) / 1000;
    return { streams, connections, authenticated, seconds, outputBytes, leaks, unclosed, sent };
  }

  it("keeps serving well-behaved devices after the fuzz", async () => {
    // A fresh well-behaved device connects, reports and is reached, as if nothing happened.
    const fresh = await enrolDirect(server, await createToken(server));
    const client = await connectDevice(server, fresh);
    const got: string[] = [];
    client.on("message", (topic) => got.push(topic));
    await client.subscribeAsync(deviceTopics(fresh.deviceId).cmd, { qos: 1 });
    await server.broker.publish(fresh.deviceId, "cmd", { type: "ping" });
    await waitFor("fresh device reached", async () => got.length === 1);
    await client.publishAsync(deviceTopics(fresh.deviceId).meta, JSON.stringify({ model: "after-fuzz" }), {
      qos: 1,
    });
    await waitFor("fresh metadata stored", async () => {
      const res = await server.api<{ metadata: { model?: string } }>(
        "GET",
        `/api/v1/devices/${fresh.deviceId}`,
      );
      return res.body.metadata.model === "after-fuzz";
    });
    await client.endAsync();
  });
});
