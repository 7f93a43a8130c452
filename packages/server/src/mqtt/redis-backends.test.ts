import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { it } from "node:test";
import { Aedes, type AedesPublishPacket } from "aedes";
import { Redis } from "ioredis";
import pino from "pino";
import { needServices, REDIS_URL } from "../../../../test/services.ts";
import { brokerNamespaces, redisBrokerBackends } from "./redis-backends.ts";

interface Node {
  broker: Aedes;
  close(): Promise<void>;
}

async function node(prefix: string): Promise<Node> {
  const backends = redisBrokerBackends(REDIS_URL, prefix, pino({ level: "silent" }));
  const broker = await Aedes.createBroker({ mq: backends.mq, persistence: backends.persistence });
  return {
    broker,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await backends.close();
    },
  };
}

const publish = (n: Node, topic: string, payload: string, retain = false) =>
  new Promise<void>((resolve, reject) =>
    n.broker.publish({ cmd: "publish", topic, payload, qos: 0, retain, dup: false }, (e) =>
      e ? reject(e) : resolve(),
    ),
  );

/** Subscribes server-side; resolves once the Redis subscription is in place. */
function listen(n: Node, topic: string): Promise<{ got: string[]; next(): Promise<string> }> {
  const got: string[] = [];
  let wake: (() => void) | undefined;
  const deliver = (packet: AedesPublishPacket, done: () => void) => {
    got.push(packet.payload.toString());
    wake?.();
    done();
  };
  return new Promise((resolve) =>
    n.broker.subscribe(topic, deliver, () =>
      resolve({
        got,
        next: () =>
          new Promise<string>((r) => {
            const count = got.length;
            wake = () => got.length > count && r(got[got.length - 1]!);
          }),
      }),
    ),
  );
}

async function retained(n: Node, topic: string): Promise<string[]> {
  const persistence = (n.broker as unknown as { persistence: { createRetainedStream(p: string): Readable } })
    .persistence;
  const out: string[] = [];
  for await (const packet of persistence.createRetainedStream(topic))
    out.push(String((packet as { payload: Buffer }).payload));
  return out;
}

it("two deployments sharing one Redis under different prefixes: no shared broker messages or sessions", async (t) => {
  if (!(await needServices(t, ["redis"]))) return;
  const run = randomBytes(4).toString("hex");
  const [prefixA, prefixB] = [`test-${run}-a:`, `test-${run}-b:`];
  const a1 = await node(prefixA);
  const a2 = await node(prefixA);
  const b1 = await node(prefixB);
  const b2 = await node(prefixB);
  const raw = new Redis(REDIS_URL);
  try {
    const topic = `bw/v1/d/${run}/cmd`;
    const onA2 = await listen(a2, topic);
    const onB1 = await listen(b1, topic);

    // A's message reaches A's other process. Redis hands a subscriber its messages in the order it
    // ran the PUBLISH commands, so once B's later marker has reached b1, anything of A's would have too.
    const fromA = onA2.next();
    await publish(a1, topic, "from A");
    assert.equal(await fromA, "from A");
    const marker = onB1.next();
    await publish(b2, topic, "from B");
    assert.equal(await marker, "from B");
    assert.deepEqual(onB1.got, ["from B"], "deployment B never saw A's message");
    assert.deepEqual(onA2.got, ["from A"], "deployment A never saw B's message");

    // Session store: a retained message of A is A's alone, stored under A's key prefix.
    const config = `bw/v1/d/${run}/config`;
    await publish(a1, config, "retained by A", true);
    assert.deepEqual(await retained(a2, config), ["retained by A"]);
    assert.deepEqual(await retained(b1, config), []);
    assert.equal(await raw.hexists(`${brokerNamespaces(prefixA).keys}retained`, config), 1);
    assert.equal(await raw.hexists(`${brokerNamespaces(prefixB).keys}retained`, config), 0);
    assert.equal(await raw.hexists("retained", config), 0, "nothing outside the prefix");
  } finally {
    for (const n of [a1, a2, b1, b2]) await n.close();
    for (const prefix of [prefixA, prefixB]) {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
    }
    raw.disconnect();
  }
});
