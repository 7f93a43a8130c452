import type { EventEmitter } from "node:events";
import type { Redis } from "ioredis";
import mqemitterRedis from "mqemitter-redis";
import type { Logger } from "pino";

type Message = Record<string, unknown> & { topic: string };
type Done = (error?: Error | null) => void;

/** What this module uses of mqemitter-redis' prefixing emitter (its types declare only the default export). */
interface PrefixEmitter {
  emit(message: Message, done?: Done): void;
  close(done?: () => void): void;
  /** MQEmitter's own emit, kept by mqemitter-redis as `_emit`: delivery to this process's listeners. */
  _emit(message: Message, done?: Done): void;
  /** MQEmitter's own close (`_close`): marks the emitter closed, nothing else. */
  _close(done?: () => void): void;
  closing?: boolean;
  /** Where mqemitter-redis re-emits its connections' errors. */
  readonly state: EventEmitter;
  readonly closed?: boolean;
}
type PrefixEmitterClass = new (prefix: string, options: { subConn: Redis; pubConn: Redis }) => PrefixEmitter;
const { MQEmitterRedisPrefix } = mqemitterRedis as unknown as { MQEmitterRedisPrefix: PrefixEmitterClass };

const noop = () => {};

/**
 * The broker's pub/sub over Redis (mqemitter-redis under the deployment's prefix) that keeps this
 * process serving while Redis is away (issue #13): a message published then is delivered to this
 * process's own subscribers only, as the in-process emitter would, instead of failing the PUBLISH
 * (which would close the device's connection and skip the server's handling of what it sent).
 * Cross-process delivery is what degrades; the loss and the return are logged with counts.
 */
export class DegradableEmitter extends MQEmitterRedisPrefix {
  readonly #prefix: string;
  readonly #conns: { subConn: Redis; pubConn: Redis };
  readonly #log: Logger;
  #degraded = false;
  #deliveredHereOnly = 0;
  #lost = 0;

  constructor(prefix: string, conns: { subConn: Redis; pubConn: Redis }, log: Logger) {
    super(prefix, conns);
    this.#prefix = prefix;
    this.#conns = conns;
    this.#log = log;
    // mqemitter-redis re-emits every connection error here; unhandled, the first one ended the
    // process. The connections log them themselves (control/redis-connection.ts).
    this.state.on("error", (error: Error) => log.debug({ reason: error.message }, "broker pub/sub error"));
  }

  /** True while both connections are up, so a message published now also comes back to this process. */
  #shared(): boolean {
    return this.#conns.pubConn.status === "ready" && this.#conns.subConn.status === "ready";
  }

  override emit(message: Message, done: Done = noop): void {
    if (this.closed) {
      super.emit(message, done);
      return;
    }
    if (!this.#shared()) {
      this.#degrade();
      this.#deliveredHereOnly++;
      // The listeners are registered under the prefixed topic (see MQEmitterRedisPrefix.on).
      this._emit({ ...message, topic: this.#prefix + message.topic }, done);
      return;
    }
    this.#restore();
    super.emit(message, (error) => {
      // The connection dropped with the PUBLISH in flight: it may have reached Redis, so it is not
      // delivered here as well (at most once); it is counted as lost.
      if (error) {
        this.#degrade();
        this.#lost++;
      }
      done();
    });
  }

  override close(done?: () => void): void {
    if (this.#shared() || this.closed || this.closing) {
      super.close(done);
      return;
    }
    // mqemitter-redis closes by QUIT and waits for both connections' "end"; a connection waiting
    // to reconnect never sends it (ioredis), so closing would wait for Redis to return. Drop them.
    this.closing = true;
    for (const conn of [this.#conns.subConn, this.#conns.pubConn]) conn.disconnect();
    this._close(done);
  }

  #degrade(): void {
    if (this.#degraded) return;
    this.#degraded = true;
    this.#log.warn("broker pub/sub without Redis: messages reach this process's devices only");
  }

  #restore(): void {
    if (!this.#degraded) return;
    this.#degraded = false;
    this.#log.info(
      { deliveredHereOnly: this.#deliveredHereOnly, lostInFlight: this.#lost },
      "broker pub/sub shared through Redis again",
    );
    this.#deliveredHereOnly = 0;
    this.#lost = 0;
  }
}
