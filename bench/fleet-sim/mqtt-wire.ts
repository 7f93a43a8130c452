/**
 * The few MQTT 3.1.1 packets a simulated device needs, encoded by hand so that each connection
 * costs one TLS socket and a few bytes (mqtt.js costs ~2–3.5 ms of CPU per connect).
 */

// MQTT 3.1.1 §2.2.3: remaining length, 7 bits per byte, high bit = more.
function remainingLength(n: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return bytes;
}

/** MQTT 3.1.1 §3.1: CONNECT, protocol level 4, clean session, no will/username/password. */
export function connectPacket(clientId: string, keepaliveSeconds: number): Buffer {
  const id = Buffer.from(clientId, "utf8");
  const variable = Buffer.from([
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    4,
    0x02,
    keepaliveSeconds >> 8,
    keepaliveSeconds & 0xff,
  ]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const body = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

/** MQTT 3.1.1 §3.12: PINGREQ. */
export const PINGREQ = Buffer.from([0xc0, 0x00]);

/** MQTT 3.1.1 §3.14: DISCONNECT. */
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** MQTT 3.1.1 §3.2: the CONNACK return code at the start of `data`, or undefined if it is not a CONNACK. */
export function connackCode(data: Buffer): number | undefined {
  return data.length >= 4 && data[0] === 0x20 && data[1] === 0x02 ? data[3] : undefined;
}

const utf8String = (s: string): Buffer => {
  const b = Buffer.from(s, "utf8");
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** MQTT 3.1.1 §3.8: SUBSCRIBE to one topic filter at QoS 1. */
export function subscribePacket(packetId: number, filter: string): Buffer {
  const body = Buffer.concat([
    Buffer.from([packetId >> 8, packetId & 0xff]),
    utf8String(filter),
    Buffer.from([1]),
  ]);
  return Buffer.concat([Buffer.from([0x82, ...remainingLength(body.length)]), body]);
}

/** MQTT 3.1.1 §3.3: PUBLISH at QoS 1 (packet id) or QoS 0 (packetId 0). */
export function publishPacket(topic: string, payload: Buffer, packetId: number): Buffer {
  const head = packetId > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
  const body = Buffer.concat([utf8String(topic), head, payload]);
  return Buffer.concat([Buffer.from([packetId > 0 ? 0x32 : 0x30, ...remainingLength(body.length)]), body]);
}

/** MQTT 3.1.1 §3.4: PUBACK. */
export const pubackPacket = (packetId: number): Buffer =>
  Buffer.from([0x40, 0x02, packetId >> 8, packetId & 0xff]);

/** One control packet as read off the wire (MQTT 3.1.1 §2.2). */
export interface Packet {
  type: number;
  flags: number;
  body: Buffer;
}

/**
 * Splits a byte stream into MQTT control packets (a TLS record may hold several, or part of one).
 * Feed it each chunk; it calls `onPacket` for every whole packet.
 */
export function packetReader(onPacket: (packet: Packet) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      // MQTT 3.1.1 §2.2.3: at most four bytes of remaining length.
      let length = 0;
      let multiplier = 1;
      let i = 1;
      for (; i < 5; i++) {
        if (i >= pending.length) return;
        const byte = pending[i]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      const start = i + 1;
      if (pending.length < start + length) return;
      onPacket({
        type: pending[0]! >> 4,
        flags: pending[0]! & 0x0f,
        body: pending.subarray(start, start + length),
      });
      pending = pending.subarray(start + length);
    }
  };
}

/** MQTT 3.1.1 §3.3.2: a PUBLISH packet's topic, packet id (0 at QoS 0) and payload. */
export function parsePublish(packet: Packet): { topic: string; packetId: number; payload: Buffer } {
  const topicLength = packet.body.readUInt16BE(0);
  const topic = packet.body.subarray(2, 2 + topicLength).toString("utf8");
  const qos = (packet.flags >> 1) & 0x03;
  const packetId = qos > 0 ? packet.body.readUInt16BE(2 + topicLength) : 0;
  return { topic, packetId, payload: packet.body.subarray(2 + topicLength + (qos > 0 ? 2 : 0)) };
}
