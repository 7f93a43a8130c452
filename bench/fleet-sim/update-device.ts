/**
 * The fleet simulator's update client, one per device in a worker (`worker.ts`): MQTT 3.1.1 over
 * the device's own mutual TLS 1.3, subscribed to its `jobs/notify` topic. On a job notification
 * it does what the real agent reports (packages/agent/src/updates/update-agent.ts): downloading
 * (with progress paced as the agent paces it, `wire/progress.ts`), the target over HTTPS with its own certificate
 * while hashing it (length and SHA-256 checked against the published target), verifying,
 * installing, succeeded. It skips the agent's TUF metadata workflow (per-device CPU, not server
 * work) and takes the target's length and hash from its command instead of from signed targets
 * metadata. Like the agent it never starts a job twice and, re-announced a job it finished,
 * reports the end again.
 *
 * Failover (what a load balancer in front of several server processes gives a real device): each
 * device knows every process's broker and HTTPS port (the fleet's `ports` and `httpsPorts`, device
 * i starting on endpoint i mod n). With `reconnect`, a device whose connection drops (its process
 * was killed) connects to the next endpoint after a jittered, exponentially growing delay (so the
 * devices of a dead process do not all arrive in one tick), subscribes again and carries on its
 * job: like the agent's report outbox (agent/src/updates/report-outbox.ts) it keeps every report
 * until its PUBACK and sends those left, in order, on each new session; a download cut off resumes
 * with an HTTP Range request (RFC 9110 §14.2, `If-Range` on the target's ETag) from whichever
 * process answers next, or starts over where the server answers with the whole file.
 */
import { createHash, type Hash } from "node:crypto";
import { type RequestOptions, request } from "node:https";
import type { TcpNetConnectOpts } from "node:net";
import { performance } from "node:perf_hooks";
import { type ConnectionOptions, connect, type SecureContext, type TLSSocket } from "node:tls";
import { progressPacer } from "../../packages/sdk/src/wire/progress.ts";
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
  /**
   * Where each server process's HTTPS API listens (the devices download from it), one per broker
   * port of the fleet and in the same order: endpoint i is broker port i with HTTPS port i.
   */
  httpsPorts: number[];
  /** The published target (what TUF targets metadata would give the device). */
  target: { sha256: string; length: number };
  /** Downloads in flight per worker process. */
  downloadConcurrency: number;
  /** Reconnect (to the next endpoint, and subscribe again) when the connection drops. */
  reconnect: boolean;
  /**
   * The reconnect delay: attempt k (from 0) waits a uniformly random time in
   * [0, min(cap, base × 2^k)] ms ("full jitter"). Default [500, 4000].
   */
  reconnectBackoffMs?: [number, number];
  /** The agent's progress reports during the download (default true; false to measure their cost). */
  progressReports?: boolean;
  /** A pause before each reported state, [min, max] ms (the fault tests spread the jobs with it). */
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
  /** Sessions made again after a dropped one, and of those, how many on another endpoint. */
  reconnects: number;
  failovers: number;
  /** Sessions lost while the device had a job under way or a report not yet acknowledged. */
  jobsCutOff: number;
  /** Reports sent again on a new session (no PUBACK on the one they went out on; not those made offline). */
  reportsResent: number;
  /** Downloads finished after a failed attempt: continued from the bytes held (206), or whole (200). */
  downloadsResumed: number;
  downloadsRestarted: number;
  lastNotifiedAt: number;
  lastSucceededAt: number;
  lastDownloadedAt: number;
  firstError?: string;
}

export const emptyTally = (): Tally => ({
  notified: 0,
  succeeded: 0,
  downloaded: 0,
  downloadFailures: 0,
  downloadMs: 0,
  firstByteMs: 0,
  downloads: 0,
  reconnects: 0,
  failovers: 0,
  jobsCutOff: 0,
  reportsResent: 0,
  downloadsResumed: 0,
  downloadsRestarted: 0,
  lastNotifiedAt: 0,
  lastSucceededAt: 0,
  lastDownloadedAt: 0,
});

export interface DeviceJobStats {
  deviceId: string;
  /** Per job: how many times the device ran its install step. */
  installs: Record<string, number>;
  /** The endpoint (index into the fleet's ports) of each MQTT session the device had, in order. */
  sessions: number[];
}

/** A cancel notice names its job's state as canceled (SDK wire/jobs.ts). */
const CANCELED = Buffer.from('"state":"canceled"');

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

/** The bytes of a target received so far and their running hash: what a resumed download continues. */
export interface PartialDownload {
  bytes: number;
  hash: Hash;
}

export const emptyPartial = (): PartialDownload => ({ bytes: 0, hash: createHash("sha256") });

/**
 * GET `path` over HTTPS with the device's certificate (mutual TLS 1.3, a fresh connection as a
 * device's first download is), hashing while streaming; rejects unless the status is 200 (or 206
 * for a resumed one) and the body ends at exactly `expected`'s length and SHA-256.
 *
 * With `partial` holding bytes from an attempt that was cut off, it asks for the rest only (RFC
 * 9110 §14.2 Range, with §13.1.5 If-Range on the ETag the server gives a target, its SHA-256): a
 * 206 must start where `partial` ends (§14.4 Content-Range) and continues its hash; a 200 is the
 * whole file again and starts over. `partial` keeps what arrived if this attempt is cut off too.
 * Resolves with how the body was obtained.
 */
export function downloadVerified(options: {
  host: string;
  port: number;
  path: string;
  secureContext: SecureContext;
  localAddress: string;
  expected: { sha256: string; length: number };
  partial?: PartialDownload;
  onProgress?: (bytes: number, total: number) => void;
  /** Adds the duration of a successful download. */
  tally?: Tally;
}): Promise<"whole" | "resumed"> {
  const started = now();
  const partial = options.partial ?? emptyPartial();
  const { length, sha256 } = options.expected;
  const from = partial.bytes;
  return new Promise((resolve, reject) => {
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
      headers: from > 0 ? { range: `bytes=${from}-`, "if-range": `"${sha256}"` } : {},
    };
    const req = request(requestOptions, (res) => {
      let how: "whole" | "resumed";
      if (res.statusCode === 200) {
        how = "whole";
        // The whole file (no Range asked, or the server ignored it): start over.
        partial.bytes = 0;
        partial.hash = createHash("sha256");
      } else if (res.statusCode === 206 && from > 0) {
        how = "resumed";
        // RFC 9110 §14.4: "bytes first-last/complete"; it must continue exactly where we are.
        if (res.headers["content-range"] !== `bytes ${from}-${length - 1}/${length}`) {
          res.resume();
          reject(new Error(`Content-Range ${res.headers["content-range"]} for a resume at ${from}`));
          return;
        }
      } else {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode} for ${options.path}`));
        return;
      }
      if (options.tally) options.tally.firstByteMs += now() - started;
      res.on("data", (chunk: Buffer) => {
        if (partial.bytes + chunk.length > length) {
          // Nothing of it is kept: the next attempt starts over.
          partial.bytes = 0;
          partial.hash = createHash("sha256");
          res.destroy(new Error("longer than the target"));
          return;
        }
        partial.hash.update(chunk);
        partial.bytes += chunk.length;
        options.onProgress?.(partial.bytes, length);
      });
      res.on("error", reject);
      // A connection that closes before the body's end (the serving process died) fails the attempt.
      res.on("close", () => {
        if (!res.complete) reject(new Error(`cut off after ${partial.bytes} of ${length} bytes`));
      });
      res.on("end", () => {
        if (partial.bytes !== length) {
          reject(new Error(`${partial.bytes} bytes, the target has ${length}`));
          return;
        }
        const digest = partial.hash.digest("hex");
        partial.bytes = 0;
        partial.hash = createHash("sha256");
        if (digest !== sha256) reject(new Error("SHA-256 mismatch"));
        else {
          if (options.tally) {
            options.tally.downloads++;
            options.tally.downloadMs += now() - started;
          }
          resolve(how);
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

/** A report kept until its PUBACK (the agent's outbox), with the packet id of its latest send. */
interface OutboxEntry {
  jobId: string;
  state: string;
  payload: Buffer;
  onAck?: () => void;
  packetId: number;
  sends: number;
}

/** The shared state of one worker's update devices. */
export interface UpdateWorld {
  host: string;
  /** Broker ports, one per server process; `options.httpsPorts` has the HTTPS port of each. */
  mqttPorts: number[];
  options: UpdateOptions;
  tally: Tally;
  changed: () => void;
  slot: <T>(fn: () => Promise<T>) => Promise<T>;
  closing: () => boolean;
  keepaliveSeconds: number;
}

/** Attempt `attempt`'s (from 0) delay: uniform in [0, min(cap, base × 2^attempt)] ms. */
export function backoffMs(attempt: number, [base, cap]: [number, number]): number {
  return Math.random() * Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

/** One simulated device with the update client; `start()` resolves on its first SUBACK (or failure). */
export class UpdateDevice {
  readonly device: SimDevice;
  readonly #world: UpdateWorld;
  readonly #localAddress: string;
  readonly #secureContext: SecureContext;
  readonly #jobs = new Map<string, LocalJob>();
  /** Reports not yet acknowledged, in the order they were made. */
  readonly #outbox: OutboxEntry[] = [];
  readonly #sessions: number[] = [];
  #socket: TLSSocket | undefined;
  /** The endpoint of the live (or last) session, and the one the next download goes to. */
  #endpoint: number;
  #downloadEndpoint: number;
  #nextId = 1;
  #notified = false;
  #succeeded = false;

  constructor(
    world: UpdateWorld,
    device: SimDevice,
    home: number,
    localAddress: string,
    secureContext: SecureContext,
  ) {
    this.#world = world;
    this.device = device;
    this.#endpoint = home;
    this.#downloadEndpoint = home;
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
      sessions: [...this.#sessions],
    };
  }

  /** Connects to its endpoint and subscribes; resolves true once subscribed, or the reason it failed. */
  start(endpoint = this.#endpoint): Promise<string | true> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: string | true) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const options: ConnectionOptions & Pick<TcpNetConnectOpts, "localAddress"> = {
        host: this.#world.host,
        port: this.#world.mqttPorts[endpoint],
        localAddress: this.#localAddress,
        secureContext: this.#secureContext,
        servername: "localhost",
      };
      const socket = connect(options);
      const read = packetReader((packet) => this.#onPacket(socket, endpoint, packet, settle));
      socket.once("secureConnect", () =>
        socket.write(connectPacket(this.device.deviceId, this.#world.keepaliveSeconds)),
      );
      socket.on("data", read);
      socket.on("error", (error) => settle(error.message));
      socket.once("close", () => {
        settle("closed before SUBACK");
        const wasLive = this.#socket === socket;
        if (wasLive) {
          this.#socket = undefined;
          const underWay =
            this.#outbox.length > 0 || [...this.#jobs.values()].some((job) => job.state === "running");
          if (underWay && !this.#world.closing()) {
            this.#world.tally.jobsCutOff++;
            this.#world.changed();
          }
        }
        // A session that was up comes back (once: the retry loop itself handles its failed attempts).
        if (wasLive && this.#world.options.reconnect && !this.#world.closing()) void this.#retry(endpoint);
      });
    });
  }

  /**
   * After the session on endpoint `lost` dropped: the next endpoints in turn (the same one when
   * there is only one), each attempt after a jittered backoff, until one takes the device.
   */
  async #retry(lost: number): Promise<void> {
    const ports = this.#world.mqttPorts.length;
    const backoff = this.#world.options.reconnectBackoffMs ?? [500, 4000];
    for (let attempt = 0; !this.#world.closing(); attempt++) {
      await sleep(backoffMs(attempt, backoff));
      if (this.#world.closing()) return;
      if ((await this.start((lost + 1 + attempt) % ports)) === true) return;
    }
  }

  #onPacket(socket: TLSSocket, endpoint: number, packet: Packet, settle: (r: string | true) => void): void {
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
      case 9: {
        // SUBACK (§3.9): 0x80 is a refusal.
        if (packet.body[2] === 0x80) {
          settle("SUBACK refused");
          socket.destroy();
          return;
        }
        const world = this.#world;
        if (this.#sessions.length > 0) {
          world.tally.reconnects++;
          if (endpoint !== this.#sessions.at(-1)) world.tally.failovers++;
          world.changed();
        }
        this.#sessions.push(endpoint);
        this.#endpoint = endpoint;
        // Downloads go to the process that holds the session (the one known to be alive).
        this.#downloadEndpoint = endpoint;
        this.#socket = socket;
        // What no session acknowledged goes out again, in order, before anything reported later
        // (a clean session, MQTT 3.1.1 §3.1.2.4, re-sends nothing by itself).
        for (const entry of this.#outbox) {
          if (entry.sends > 0) world.tally.reportsResent++;
          this.#send(entry);
        }
        settle(true);
        return;
      }
      case 3: {
        const publish = parsePublish(packet);
        if (publish.packetId > 0) socket.write(pubackPacket(publish.packetId));
        this.#onNotify(publish.payload);
        return;
      }
      case 4: {
        // PUBACK (§3.4): the server has stored the report (§4.3.2 hands it over), it leaves the outbox.
        if (socket !== this.#socket) return;
        const id = packet.body.readUInt16BE(0);
        const index = this.#outbox.findIndex((entry) => entry.packetId === id);
        if (index < 0) return;
        const [entry] = this.#outbox.splice(index, 1);
        entry!.onAck?.();
        return;
      }
    }
  }

  #packetId(): number {
    const id = this.#nextId;
    this.#nextId = (this.#nextId % 65_535) + 1;
    return id;
  }

  /**
   * Publishes a status report at QoS 1, kept until its PUBACK (`onAck` runs then) and sent again
   * on each new session until then.
   */
  #report(
    jobId: string,
    report: { state: string; progress?: { bytes: number; total: number } },
    onAck?: () => void,
  ): void {
    const entry: OutboxEntry = {
      jobId,
      state: report.state,
      payload: Buffer.from(JSON.stringify(report)),
      onAck,
      packetId: 0,
      sends: 0,
    };
    this.#outbox.push(entry);
    if (this.#socket) this.#send(entry);
  }

  #send(entry: OutboxEntry): void {
    entry.packetId = this.#packetId();
    entry.sends++;
    this.#socket?.write(
      publishPacket(deviceTopics(this.device.deviceId).jobStatus(entry.jobId), entry.payload, entry.packetId),
    );
  }

  #onNotify(payload: Buffer): void {
    const world = this.#world;
    // A cancel notice (a canceled job, re-sent on subscribe until acknowledged) is no notification.
    if (!this.#notified && !payload.includes(CANCELED)) {
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
    const jobId = note.jobId;
    const known = this.#jobs.get(jobId);
    // As the agent: an ended job is never started again; if the server still shows it open, the
    // last report was lost: report the end again (unless it is still waiting in the outbox).
    if (known?.state === "succeeded") {
      const waiting = this.#outbox.some((e) => e.jobId === jobId && e.state === "succeeded");
      if (note.state !== "succeeded" && !waiting)
        this.#report(jobId, { state: "succeeded" }, () => this.#done());
      return;
    }
    if (note.state === "canceled" || known) return;
    const job: LocalJob = { state: "running", installs: 0 };
    this.#jobs.set(jobId, job);
    void this.#run(jobId, job, String(note.productId), note.targets?.[0]?.path ?? "");
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
    const partial = emptyPartial();
    const endpoints = world.options.httpsPorts.length;
    // As the agent: progress paced (wire/progress.ts), not per chunk.
    const progressDue = progressPacer();
    for (let attempt = 0; ; attempt++) {
      // Read when the slot is had: a session made on another endpoint meanwhile moves it there.
      let used = this.#downloadEndpoint;
      try {
        const how = await world.slot(() => {
          used = this.#downloadEndpoint;
          return downloadVerified({
            host: world.host,
            port: world.options.httpsPorts[used]!,
            path,
            secureContext: this.#secureContext,
            localAddress: this.#localAddress,
            expected: target,
            partial,
            tally: world.tally,
            onProgress: (bytes, total) => {
              if (world.options.progressReports === false || !progressDue(bytes, total)) return;
              this.#report(jobId, { state: "downloading", progress: { bytes, total } });
            },
          });
        });
        if (how === "resumed") world.tally.downloadsResumed++;
        else if (attempt > 0) world.tally.downloadsRestarted++;
        break;
      } catch (error) {
        world.tally.downloadFailures++;
        world.tally.firstError ??= (error as Error).message;
        if (world.closing() || attempt >= 100) return;
        // The process that served it may be gone: the next attempt goes to the next endpoint (or
        // to the one a new session was made with meanwhile).
        if (this.#downloadEndpoint === used) this.#downloadEndpoint = (used + 1) % endpoints;
        await sleep(backoffMs(attempt, world.options.reconnectBackoffMs ?? [500, 4000]));
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
