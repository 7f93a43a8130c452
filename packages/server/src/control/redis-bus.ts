import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import {
  type ControlBus,
  type ControlEvent,
  type ControlHandler,
  parseControlEvent,
  Subscribers,
} from "./bus.ts";
import { redisConnection } from "./redis-connection.ts";

/** The channel under the deployment's prefix (`--redis-prefix`, default `bulwark:`). */
export const controlChannel = (prefix: string): string => `${prefix}control:v1`;
const MAX_MESSAGE_BYTES = 4096;

interface Envelope {
  origin: string;
  event: ControlEvent;
}

/**
 * The multi-process bus over Redis pub/sub: each process delivers its own events locally at once
 * and publishes them on its deployment's channel; events from other processes are validated before
 * delivery (Redis is shared infrastructure, not trusted input). Redis going away ends nothing: a
 * publish then fails (the caller logs it) and the subscription is made again once Redis is back.
 */
export class RedisControlBus implements ControlBus {
  readonly #origin = randomUUID();
  readonly #channel: string;
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #subscribers: Subscribers;
  readonly #rejoined = new Set<() => void>();
  #joined = false;

  private constructor(url: string, prefix: string, onError: (error: unknown) => void, log: Logger) {
    this.#channel = controlChannel(prefix);
    this.#pub = redisConnection(url, "control-pub", log, { lazyConnect: true });
    // Subscribed again by this bus itself on reconnection, so that the moment it listens again is known.
    this.#sub = redisConnection(url, "control-sub", log, { lazyConnect: true, autoResubscribe: false });
    this.#subscribers = new Subscribers(onError);
    this.#sub.on("ready", () => {
      if (this.#joined) this.#rejoin(log);
    });
    this.#sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => {
      const event = this.#decode(message);
      if (event === null) return;
      if (event) this.#subscribers.deliver(event);
      else onError(new Error("control bus: malformed or unknown event dropped"));
    });
  }

  #rejoin(log: Logger): void {
    this.#sub.subscribe(this.#channel).then(
      () => {
        log.info({ channel: this.#channel }, "control bus subscribed again");
        for (const handler of this.#rejoined) handler();
      },
      // The connection dropped again before the reply: its next "ready" tries again.
      (error: Error) => log.warn({ reason: error.message }, "control bus not subscribed again yet"),
    );
  }

  /** Joins the bus of the deployment whose Redis keys and channels begin with `prefix`. */
  static async connect(
    url: string,
    prefix: string,
    onError: (error: unknown) => void,
    log: Logger = pino({ level: "silent" }),
  ): Promise<RedisControlBus> {
    const bus = new RedisControlBus(url, prefix, onError, log);
    await Promise.all([bus.#pub.connect(), bus.#sub.connect()]);
    await bus.#sub.subscribe(bus.#channel);
    bus.#joined = true;
    return bus;
  }

  /** The event inside a message from another process; undefined for our own echo or bad input. */
  #decode(message: Buffer): ControlEvent | undefined | null {
    if (message.length > MAX_MESSAGE_BYTES) return undefined;
    let envelope: Partial<Envelope>;
    try {
      envelope = JSON.parse(message.toString("utf8")) as Partial<Envelope>;
    } catch {
      return undefined;
    }
    if (envelope.origin === this.#origin) return null;
    return parseControlEvent(envelope.event);
  }

  async publish(event: ControlEvent): Promise<void> {
    this.#subscribers.deliver(event);
    await this.#pub.publish(
      this.#channel,
      JSON.stringify({ origin: this.#origin, event } satisfies Envelope),
    );
  }

  /**
   * Calls `handler` each time the bus listens again after Redis was away: the events published
   * meanwhile never reached this process, so what they would have done must be found another way.
   */
  onRejoined(handler: () => void): void {
    this.#rejoined.add(handler);
  }

  subscribe(handler: ControlHandler): () => void {
    return this.#subscribers.add(handler);
  }

  async close(): Promise<void> {
    // QUIT needs Redis; while it is away the connection is simply dropped.
    for (const conn of [this.#sub, this.#pub])
      if (conn.status === "ready") await conn.quit();
      else conn.disconnect();
  }
}
