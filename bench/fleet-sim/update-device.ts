/**
 * The fleet simulator's update client, one per device in a worker (`worker.ts`): MQTT 3.1.1 over
 * the device's own mutual TLS 1.3, subscribed to its `jobs/notify` topic. On a job notification
 * it does what the real agent reports (packages/agent/src/updates/update-agent.ts): downloading
 * (with progress every 10 %, as the agent does), the target over HTTPS with its own certificate
 * while hashing it (length and SHA-256 checked against the published target), verifying,
 * installing, succeeded. It skips the agent's TUF metadata workflow (per-device CPU, not server
 * work) and takes the target's length and hash from its command instead of from signed targets
 * metadata. Like the agent it never starts a job twice and, re-announced a job it finished,
 * reports the end again. With `reconnect` it comes back after its connection drops.
 */
import { createHash } from "node:crypto";
import { type RequestOptions, request } from "node:https";
import type { TcpNetConnectOpts } from "node:net";
import { performance } from "node:perf_hooks";
import { type ConnectionOptions, connect, type SecureContext, type TLSSocket } from "node:tls";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import type { SimDevice } from "./identities.ts";
import {
  connackCode,
  connectPacket,
  type Packet,
  packetReader,
  parsePublish,
  pubackPacket,
  publishPacket,
  subscribePacket,
} from "./mqtt-wire.ts";

export interface UpdateOptions {
  /** "count": only note the first notification (a peer broker); "agent": run the job. */
  behaviour: "count" | "agent";
  /** Where the server's HTTPS API listens (the devices download from it). */
  httpsPort: number;
  /** The published target (what TUF targets metadata would give the device). */
  target: { sha256: string; length: number };
  /** Downloads in flight per worker process. */
  downloadConcurrency: number;
  /** Reconnect (and subscribe again) when the connection drops. */
  reconnect: boolean;
  /** The agent's progress reports during the download (default true; false to measure their cost). */
  progressReports?: boolean;
  /** A pause before each reported state, [min, max] ms (the fault test spreads the jobs with it). */
  stepDelayMs?: [number, number];
}

/** What a worker counts; `last*At` are wall-clock ms (sub-ms precision) of the latest one. */
export interface Tally {
  notified: number;
  succeeded: number;
  downloaded: number;
  downloadFailures: number;
  /** Sum of the successful downloads' durations (request to verified end, not the wait for a slot), ms. */
  downloadMs: number;
  /** Sum of the times from request to response headers, ms. */
  firstByteMs: number;
  downloads: number;
  lastNotifiedAt: number;
  lastSucceededAt: number;
  lastDownloadedAt: number;
  firstError?: string;
}

export interface DeviceJobStats {
  deviceId: string;
  /** Per job: how many times the device ran its install step. */
  installs: Record<string, number>;
}

export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A counting semaphore: at most `n` downloads of this worker in flight. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * GET `path` over HTTPS with the device's certificate (mutual TLS 1.3, a fresh connection as a
 * device's first download is), hashing while streaming; rejects unless the status is 200 and the
 * body has exactly `expected`'s length and SHA-256.
 */
export function downloadVerified(options: {
  host: string;
  port: number;
  path: string;
  secureContext: SecureContext;
  localAddress: string;
  expected: { sha256: string; length: number };
  onProgress?: (bytes: number, total: number) => void;
  /** Adds the duration of a successful download. */
  tally?: Tally;
}): Promise<void> {
  const started = now();
  return new Promise<void>((resolve, reject) => {
    // node:https hands `secureContext` and `localAddress` on to tls.connect.
    const requestOptions: RequestOptions & { secureContext: SecureContext } = {
      host: options.host,
      port: options.port,
      path: options.path,
      method: "GET",
      secureContext: options.secureContext,
      servername: "localhost",
      localAddress: options.localAddress,
      agent: false,
    };
    const req = request(requestOptions, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode} for ${options.path}`));
        return;
      }
      if (options.tally) options.tally.firstByteMs += now() - started;
      const hash = createHash("sha256");
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes > options.expected.length) res.destroy(new Error("longer than the target"));
        else options.onProgress?.(bytes, options.expected.length);
      });
      res.on("error", reject);
      res.on("end", () => {
        if (bytes !== options.expected.length)
          reject(new Error(`${bytes} bytes, the target has ${options.expected.length}`));
        else if (hash.digest("hex") !== options.expected.sha256) reject(new Error("SHA-256 mismatch"));
        else {
          if (options.tally) {
            options.tally.downloads++;
            options.tally.downloadMs += now() - started;
          }
          resolve();
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

interface LocalJob {
  state: "running" | "succeeded";
  installs: number;
}

/** The shared state of one worker's update devices. */
export interface UpdateWorld {
  host: string;
  options: UpdateOptions;
  tally: Tally;
  changed: () => void;
  slot: <T>(fn: () => Promise<T>) => Promise<T>;
  closing: () => boolean;
  keepaliveSeconds: number;
}

/** One simulated device with the update client; `start()` resolves on its first SUBACK (or failure). */
export class UpdateDevice {
  readonly device: SimDevice;
  readonly #world: UpdateWorld;
  readonly #port: number;
  readonly #localAddress: string;
  readonly #secureContext: SecureContext;
  readonly #jobs = new Map<string, LocalJob>();
  readonly #acks = new Map<number, () => void>();
  #socket: TLSSocket | undefined;
  #nextId = 1;
  #notified = false;
  #succeeded = false;

  constructor(
    world: UpdateWorld,
    device: SimDevice,
    port: number,
    localAddress: string,
    secureContext: SecureContext,
  ) {
    this.#world = world;
    this.device = device;
    this.#port = port;
    this.#localAddress = localAddress;
    this.#secureContext = secureContext;
  }

  get socket(): TLSSocket | undefined {
    return this.#socket;
  }

  stats(): DeviceJobStats {
    return {
      deviceId: this.device.deviceId,
      installs: Object.fromEntries([...this.#jobs].map(([id, job]) => [id, job.installs])),
    };
  }

  /** Connects and subscribes; resolves true once subscribed, or the reason it failed. */
  start(): Promise<string | true> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: string | true) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const options: ConnectionOptions & Pick<TcpNetConnectOpts, "localAddress"> = {
        host: this.#world.host,
        port: this.#port,
        localAddress: this.#localAddress,
        secureContext: this.#secureContext,
        servername: "localhost",
      };
      const socket = connect(options);
      const read = packetReader((packet) => this.#onPacket(socket, packet, settle));
      socket.once("secureConnect", () =>
        socket.write(connectPacket(this.device.deviceId, this.#world.keepaliveSeconds)),
      );
      socket.on("data", read);
      socket.on("error", (error) => settle(error.message));
      socket.once("close", () => {
        settle("closed before SUBACK");
        const wasLive = this.#socket === socket;
        if (wasLive) this.#socket = undefined;
        this.#acks.clear();
        // A session that was up comes back (once: the retry loop itself handles its failed attempts).
        if (wasLive && this.#world.options.reconnect && !this.#world.closing()) void this.#retry();
      });
    });
  }

  async #retry(): Promise<void> {
    while (!this.#world.closing()) {
      await sleep(200 + Math.random() * 800);
      if ((await this.start()) === true) return;
    }
  }

  #onPacket(socket: TLSSocket, packet: Packet, settle: (r: string | true) => void): void {
    switch (packet.type) {
      case 2: {
        // CONNACK (MQTT 3.1.1 §3.2): subscribe to the jobs topic at QoS 1.
        const code = connackCode(Buffer.concat([Buffer.from([0x20, 0x02]), packet.body]));
        if (code !== 0) {
          settle(`CONNACK ${code ?? "malformed"}`);
          socket.destroy();
          return;
        }
        socket.write(subscribePacket(this.#packetId(), deviceTopics(this.device.deviceId).jobsNotify));
        return;
      }
      case 9: // SUBACK (§3.9): 0x80 is a refusal.
        if (packet.body[2] === 0x80) {
          settle("SUBACK refused");
          socket.destroy();
          return;
        }
        this.#socket = socket;
        settle(true);
        return;
      case 3: {
        const publish = parsePublish(packet);
        if (publish.packetId > 0) socket.write(pubackPacket(publish.packetId));
        this.#onNotify(publish.payload);
        return;
      }
      case 4: {
        // PUBACK (§3.4)
        const id = packet.body.readUInt16BE(0);
        const ack = this.#acks.get(id);
        this.#acks.delete(id);
        ack?.();
        return;
      }
    }
  }

  #packetId(): number {
    const id = this.#nextId;
    this.#nextId = (this.#nextId % 65_535) + 1;
    return id;
  }

  /** Publishes a status report at QoS 1; `onAck` runs on its PUBACK. Lost if the connection is down. */
  #report(jobId: string, report: object, onAck?: () => void): void {
    const socket = this.#socket;
    if (!socket) return;
    const id = this.#packetId();
    if (onAck) this.#acks.set(id, onAck);
    socket.write(
      publishPacket(
        deviceTopics(this.device.deviceId).jobStatus(jobId),
        Buffer.from(JSON.stringify(report)),
        id,
      ),
    );
  }

  #onNotify(payload: Buffer): void {
    const world = this.#world;
    if (!this.#notified) {
      this.#notified = true;
      world.tally.notified++;
      world.tally.lastNotifiedAt = now();
      world.changed();
    }
    if (world.options.behaviour === "count") return;
    let note: { jobId?: unknown; state?: unknown; productId?: unknown; targets?: { path: string }[] };
    try {
      note = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    if (typeof note.jobId !== "string" || typeof note.state !== "string") return;
    const known = this.#jobs.get(note.jobId);
    // As the agent: an ended job is never started again; if the server still shows it open, the
    // last report was lost: report the end again.
    if (known?.state === "succeeded") {
      if (note.state !== "succeeded") this.#report(note.jobId, { state: "succeeded" }, () => this.#done());
      return;
    }
    if (note.state === "canceled" || known) return;
    const job: LocalJob = { state: "running", installs: 0 };
    this.#jobs.set(note.jobId, job);
    void this.#run(note.jobId, job, String(note.productId), note.targets?.[0]?.path ?? "");
  }

  async #step(): Promise<void> {
    const delay = this.#world.options.stepDelayMs;
    if (delay) await sleep(delay[0] + Math.random() * (delay[1] - delay[0]));
  }

  async #run(jobId: string, job: LocalJob, productId: string, targetPath: string): Promise<void> {
    const world = this.#world;
    const { target } = world.options;
    await this.#step();
    this.#report(jobId, { state: "downloading", progress: { bytes: 0, total: target.length } });
    // TUF spec §5.7.3 (consistent snapshots): targets/{dir/}{sha256}.{name}.
    const parts = targetPath.split("/");
    const name = parts.pop() ?? "";
    const path = `/tuf/${productId}/targets/${[...parts, `${target.sha256}.${name}`].map(encodeURIComponent).join("/")}`;
    for (let attempt = 1; ; attempt++) {
      let last = 0;
      try {
        await world.slot(() =>
          downloadVerified({
            host: world.host,
            port: world.options.httpsPort,
            path,
            secureContext: this.#secureContext,
            localAddress: this.#localAddress,
            expected: target,
            tally: world.tally,
            // As the agent: progress at most every 10 %, not per chunk.
            onProgress: (bytes, total) => {
              if (world.options.progressReports === false) return;
              if (bytes - last < total / 10 && bytes < total) return;
              last = bytes;
              this.#report(jobId, { state: "downloading", progress: { bytes, total } });
            },
          }),
        );
        break;
      } catch (error) {
        world.tally.downloadFailures++;
        world.tally.firstError ??= (error as Error).message;
        if (world.closing() || attempt >= 100) return;
        await sleep(300 + Math.random() * 700);
      }
    }
    await this.#step();
    this.#report(jobId, { state: "verifying" });
    await this.#step();
    this.#report(jobId, { state: "installing" });
    job.installs++;
    await this.#step();
    job.state = "succeeded";
    this.#report(jobId, { state: "succeeded" }, () => this.#done());
  }

  #done(): void {
    if (this.#succeeded) return;
    this.#succeeded = true;
    this.#world.tally.succeeded++;
    this.#world.tally.lastSucceededAt = now();
    this.#world.changed();
  }
}
