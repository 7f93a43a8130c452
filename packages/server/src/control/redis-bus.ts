import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import {
  type ControlBus,
  type ControlEvent,
  type ControlHandler,
  parseControlEvent,
  Subscribers,
} from "./bus.ts";

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
 * delivery (Redis is shared infrastructure, not trusted input).
 */
export class RedisControlBus implements ControlBus {
  readonly #origin = randomUUID();
  readonly #channel: string;
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #subscribers: Subscribers;

  private constructor(url: string, prefix: string, onError: (error: unknown) => void) {
    this.#channel = controlChannel(prefix);
    this.#pub = new Redis(url, { lazyConnect: true });
    this.#sub = new Redis(url, { lazyConnect: true });
    this.#subscribers = new Subscribers(onError);
    this.#sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => {
      const event = this.#decode(message);
      if (event === null) return;
      if (event) this.#subscribers.deliver(event);
      else onError(new Error("control bus: malformed or unknown event dropped"));
    });
    for (const conn of [this.#pub, this.#sub]) conn.on("error", onError);
  }

  /** Joins the bus of the deployment whose Redis keys and channels begin with `prefix`. */
  static async connect(
    url: string,
    prefix: string,
    onError: (error: unknown) => void,
  ): Promise<RedisControlBus> {
    const bus = new RedisControlBus(url, prefix, onError);
    await Promise.all([bus.#pub.connect(), bus.#sub.connect()]);
    await bus.#sub.subscribe(bus.#channel);
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

  subscribe(handler: ControlHandler): () => void {
    return this.#subscribers.add(handler);
  }

  async close(): Promise<void> {
    await Promise.all([this.#sub.quit(), this.#pub.quit()]);
  }
}
