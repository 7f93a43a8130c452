/** Broker limits (issue #5, broker hardening); each has a default that suits a real fleet. */
export interface BrokerLimits {
  /** Largest MQTT packet accepted, bytes (remaining length); larger ones close the connection. */
  maxPacketBytes: number;
  /** Per-device publish rate: sustained messages per second and burst. */
  publishPerSecond: number;
  publishBurst: number;
  /** Per-source-address rate of new TCP connections to the MQTT port. */
  connectionsPerSecond: number;
  connectionBurst: number;
  /** Keepalive a device must ask for, seconds (0 = no keepalive is refused). */
  keepaliveMin: number;
  keepaliveMax: number;
  /** Time allowed between the completed TLS handshake and CONNECT, ms (the handshake has its own deadline). */
  connectTimeoutMs: number;
}

export const DEFAULT_LIMITS: BrokerLimits = {
  maxPacketBytes: 64 * 1024,
  publishPerSecond: 10,
  publishBurst: 50,
  connectionsPerSecond: 200,
  connectionBurst: 2000,
  keepaliveMin: 5,
  keepaliveMax: 1200,
  connectTimeoutMs: 10_000,
};

/**
 * Token buckets keyed by device or address. The map is bounded: when full, buckets that have
 * refilled completely (and so hold no state worth keeping) are dropped first.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number, burst: number, maxKeys = 100_000) {
    this.#rate = perSecond / 1000;
    this.#burst = burst;
    this.#maxKeys = maxKeys;
  }

  /** Takes one token for `key`; false when the key is over its rate. */
  take(key: string, now = Date.now()): boolean {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.#prune(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#rate);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #prune(now: number): void {
    for (const [key, b] of this.#buckets)
      if (b.tokens + (now - b.at) * this.#rate >= this.#burst) this.#buckets.delete(key);
    // Still full: every key is busy; forget the oldest half rather than grow without bound.
    if (this.#buckets.size >= this.#maxKeys) {
      let n = Math.floor(this.#maxKeys / 2);
      for (const key of this.#buckets.keys()) {
        if (n-- <= 0) break;
        this.#buckets.delete(key);
      }
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}

interface ParserInternals {
  _parseLength(): boolean;
  _emitError(error: Error): void;
  packet: { length: number };
}

/**
 * Caps the remaining length of every packet a client sends. Aedes 1.x has no such option, so
 * this wraps the connection's mqtt-packet parser step that reads the length: the packet is
 * refused as soon as its header announces too many bytes, before its body is buffered. Throws
 * if the parser does not have the expected shape, so an upgrade cannot silently drop the cap.
 */
export function capPacketSize(client: unknown, maxBytes: number): void {
  const parser = (client as { _parser?: ParserInternals })._parser;
  if (!parser || typeof parser._parseLength !== "function" || typeof parser._emitError !== "function")
    throw new Error("aedes client has no mqtt-packet parser to cap; check the aedes version");
  const readLength = parser._parseLength;
  parser._parseLength = function cappedParseLength(this: ParserInternals) {
    const complete = readLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      // MQTT 3.1.1 §4.8: a server that cannot handle a packet closes the network connection.
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds ${maxBytes}`));
      return false;
    }
    return complete;
  };
}
