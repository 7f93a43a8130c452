import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { httpsRequest } from "@bulwark/sdk/https";
import type { EncryptedStore } from "@bulwark/sdk/store";
import { httpFetcher, type TargetInfo, TufUpdater, targetFileNames } from "@bulwark/sdk/tuf";
import {
  type DeltaCustom,
  type DeltaPolicy,
  deltaTargetPath,
  parseDeltaCustom,
  SEGMENTED_DELTA_FORMAT,
} from "@bulwark/sdk/wire/delta";
import {
  isFloorNotice,
  isJobNotify,
  isTerminalJobState,
  type JobNotify,
  type JobStatusReport,
} from "@bulwark/sdk/wire/jobs";
import { progressPacer } from "@bulwark/sdk/wire/progress";
import semver from "semver";
import type { AgentLog } from "../log.ts";
import { counterFromTargets, signedCounter } from "./anti-rollback.ts";
import { installConfigFile } from "./config-installer.ts";
import { decide, readConsent } from "./consent.ts";
import { APPLICABLE_DELTA_FORMATS, applyDelta, DeltaRefused, fileSha256 } from "./delta-apply.ts";
import { checkDelta, planTransfer } from "./delta-plan.ts";
import { type DownloadTls, downloadWithResume } from "./downloader.ts";
import { runCommand } from "./hooks.ts";
import { JobStore, type LocalJob } from "./job-store.ts";
import { readSettings, type UpdateSettings } from "./settings.ts";
import { SlotInstaller } from "./slots.ts";
import type { FloorAnchor } from "./tpm-floor.ts";
import { tufMetadataStore } from "./tuf-store.ts";

export interface UpdateAgentOptions {
  stateDir: string;
  /** The agent's encrypted store (`device-store.ts`): consent, jobs, installed versions, TUF metadata. */
  store: EncryptedStore;
  /** Where the anti-rollback floor is also held, outside the store (`tpm-floor.ts`); none without a TPM. */
  floorAnchor?: FloorAnchor;
  serverUrl: string;
  /** The device's TLS identity for HTTPS, read at each use (certificate renewal replaces it). */
  tls: () => DownloadTls;
  /** Publishes a job status report on `jobs/{jobId}/status`. */
  report(jobId: string, report: JobStatusReport): void;
  /** Called when what `metadata()` says changed (an install, a migrated floor): publish it again. */
  onMetadataChange?: () => void;
  log: AgentLog;
}

/** A refusal with the reason reported to the server; `state` is the job's end. */
class JobEnd extends Error {
  readonly state: "failed" | "rejected" | "rolled_back";
  constructor(state: "failed" | "rejected" | "rolled_back", reason: string) {
    super(reason);
    this.state = state;
  }
}

/** The job must wait (metered network); `reason` is reported with the deferral. */
class JobHold extends Error {}

interface Resolved {
  info: TargetInfo;
  /** The target's signed anti-rollback counter; none for a target published before counters were signed. */
  counter?: number;
  artifact: "binary" | "config";
  file: string;
  /** A signed delta from the device's current image (`base`) that passed `checkDelta`. */
  delta?: { info: TargetInfo; file: string; base: string; custom: DeltaCustom };
  /** Why no delta is used for this target. */
  noDelta?: string;
}

/**
 * The agent side of updates (issue #15 item 5): takes jobs from `jobs/notify`, asks the user's
 * consent policy, resolves every target through the full TUF client workflow under the hybrid
 * policy, downloads with resume, installs through the A/B slot installer, the configuration-file
 * installer and the script hook, and reports every state change with a reason on failure.
 */
export class UpdateAgent {
  readonly #o: UpdateAgentOptions;
  /** Re-read at each job, so a changed `updates.json` applies without a restart. */
  #settings: UpdateSettings;
  readonly #jobs: JobStore;
  readonly #slots: SlotInstaller;
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();

  constructor(options: UpdateAgentOptions) {
    this.#o = options;
    this.#settings = readSettings(options.stateDir);
    this.#jobs = new JobStore(options.store, options.stateDir, options.log, options.floorAnchor);
    this.#slots = new SlotInstaller(this.#settings.slotsDir);
  }

  /** On start: a slot left on trial (crash or power loss before commit) rolls back; open jobs resume. */
  async start(): Promise<void> {
    const trial = await this.#slots.rollBack();
    if (trial) {
      const job = this.#jobs.get(trial.jobId);
      this.#o.log.warn("slot trial not committed before restart: rolled back", {
        slot: trial.slot,
        version: trial.version,
      });
      if (job)
        this.#end(
          job,
          "rolled_back",
          "the new slot was not committed before a restart (crash or power loss)",
        );
    }
    for (const job of this.#jobs.all()) if (!isTerminalJobState(job.state)) this.#enqueue(job.note.jobId);
    this.#timer = setInterval(() => {
      for (const job of this.#jobs.all()) if (job.state === "deferred") this.#enqueue(job.note.jobId);
    }, this.#settings.checkIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#queue.catch(() => undefined);
  }

  /**
   * What the device reports of its updates in its metadata: hardware revision, installed firmware
   * and its anti-rollback floor per component (the highest signed counter installed), which the
   * server takes as the device's floor; and the delta formats it applies (`deltaFormats`), which
   * the server checks before it sends a deployment that requires a delta.
   */
  metadata(): {
    hardwareRevision?: string;
    firmwareVersion?: string;
    antiRollbackCounters?: Record<string, number>;
    deltaFormats: string[];
  } {
    let hardwareRevision: string | undefined;
    try {
      hardwareRevision = readSettings(this.#o.stateDir).hardwareRevision;
    } catch (error) {
      // A file made invalid while running: the last one read stands (jobs wait until it is fixed).
      this.#o.log.error("update settings refused", { reason: (error as Error).message });
      hardwareRevision = this.#settings.hardwareRevision;
    }
    const { components } = this.#jobs.installed();
    const firmwareVersion = components.firmware?.version;
    const counters = Object.entries(components).flatMap(([c, v]) =>
      v.counter === undefined ? [] : [[c, v.counter] as const],
    );
    return {
      ...(hardwareRevision ? { hardwareRevision } : {}),
      ...(firmwareVersion ? { firmwareVersion } : {}),
      ...(counters.length > 0 ? { antiRollbackCounters: Object.fromEntries(counters) } : {}),
      deltaFormats: [...APPLICABLE_DELTA_FORMATS],
    };
  }

  /**
   * The server's record of this device's floor (`FloorNotice`): the store's floor is raised to it,
   * never lowered. Below it means the store was put back to an older copy (or its update records
   * deleted) where no TPM holds the floor: said in an error line, and told to the server again.
   */
  #raiseToServer(counters: Record<string, number>): void {
    const raised = this.#jobs.raiseToServer(counters);
    for (const r of raised)
      this.#o.log.error(
        "the anti-rollback floor in the store is below the server's record of what this device installed: an older copy of the store was put back, or its records were deleted; raised to the server's",
        { component: r.component, ...(r.from === undefined ? {} : { from: r.from }), counter: r.to },
      );
    if (raised.length > 0) this.#o.onMetadataChange?.();
  }

  /** A message on `jobs/notify`. */
  onNotify(payload: unknown): void {
    if (isFloorNotice(payload)) {
      this.#raiseToServer(payload.counters);
      return;
    }
    if (!isJobNotify(payload)) {
      this.#o.log.warn("job notification malformed; ignored");
      return;
    }
    const known = this.#jobs.get(payload.jobId);
    if (payload.state === "canceled") {
      // An installing job finishes (the server cancels none); anything not yet ended stops.
      if (known && !isTerminalJobState(known.state) && known.state !== "installing")
        this.#jobs.put({ ...known, state: "canceled", reason: "canceled by the server" });
      // Acknowledged (also a repeat): the server sends a cancel again on each subscribe until then.
      this.#o.report(payload.jobId, { state: "canceled" });
      return;
    }
    // "No device installing twice": an ended job is never started again. If the server still
    // shows it open, its last report was lost (a broker acknowledges a QoS 1 PUBLISH before it
    // handles it, so a server dying in between loses it): report the end again.
    if (known && isTerminalJobState(known.state)) {
      if (!isTerminalJobState(payload.state))
        this.#o.report(payload.jobId, {
          state: known.state,
          ...(known.reason ? { reason: known.reason } : {}),
        });
      return;
    }
    if (!known && this.#jobs.tampered(payload.jobId)) {
      // Whether this job already ran is unknown: it is not run (again), and the server is told why.
      const reason = "the device's record of this job failed its integrity check";
      this.#jobs.put({ note: payload, firstSeenAt: Date.now(), state: "failed", reason });
      this.#o.report(payload.jobId, { state: "failed", reason });
      return;
    }
    if (!known) {
      this.#jobs.put({ note: payload, firstSeenAt: Date.now(), state: "notified" });
      void this.#hook("available", payload);
    }
    this.#enqueue(payload.jobId);
  }

  #enqueue(jobId: string): void {
    this.#queue = this.#queue
      .then(() => this.#process(jobId))
      .catch((error: unknown) =>
        this.#o.log.error("update job failed", { jobId, reason: (error as Error).message }),
      );
  }

  #set(job: LocalJob, state: LocalJob["state"], extra: Omit<JobStatusReport, "state"> = {}): LocalJob {
    const next = { ...job, state, reason: extra.reason };
    this.#jobs.put(next);
    this.#o.report(job.note.jobId, { state, ...extra });
    return next;
  }

  #end(job: LocalJob, state: "succeeded" | "failed" | "rejected" | "rolled_back", reason?: string): void {
    this.#set(job, state, reason ? { reason } : {});
    this.#o.log.info("update job ended", { jobId: job.note.jobId, state, reason });
    void this.#hook(state === "succeeded" ? "installed" : "failed", job.note, reason);
  }

  /** The job's steps, in order; each may end it (reported with its reason). */
  async #process(jobId: string): Promise<void> {
    let job = this.#jobs.get(jobId);
    if (!job || isTerminalJobState(job.state) || this.#abort.signal.aborted) return;
    this.#settings = readSettings(this.#o.stateDir);
    try {
      const decision = decide(job.note, readConsent(this.#o.store, this.#o.log), job.firstSeenAt, Date.now());
      if (decision.action === "reject") throw new JobEnd("rejected", decision.reason);
      const resolved = await this.#resolve(job);
      const counters = resolved.flatMap((r) => (r.counter === undefined ? [] : [r.counter]));
      if (counters.length > 0) job = { ...job, counter: Math.max(...counters) };
      const policy: DeltaPolicy = job.note.delta ?? "prefer";
      const plan = planTransfer(
        policy,
        resolved.map((r) => ({
          path: r.info.path,
          fullLength: r.info.target.length,
          ...(r.delta ? { delta: { length: r.delta.info.target.length } } : {}),
          ...(r.noDelta ? { noDelta: r.noDelta } : {}),
        })),
        job.note.network,
        this.#settings.metered,
      );
      if (plan.kind === "end") throw new JobEnd("failed", plan.reason);
      if (plan.kind === "hold") {
        this.#set(job, "deferred", {
          reason: plan.reason,
          deferUntil: Date.now() + this.#settings.checkIntervalMs,
        });
        return;
      }
      // Which path was taken is the reason of the downloading report (kept in the job's events).
      job = this.#set(job, "downloading", {
        reason: plan.summary,
        progress: { bytes: 0, total: plan.bytes },
      });
      const paths: string[] = [];
      try {
        for (const [i, r] of resolved.entries()) paths.push(await this.#fetch(job, r, plan.use[i]!, policy));
      } catch (error) {
        if (!(error instanceof JobHold)) throw error;
        this.#set(job, "deferred", {
          reason: error.message,
          deferUntil: Date.now() + this.#settings.checkIntervalMs,
        });
        return;
      }
      job = this.#set(job, "verifying", { reason: paths.join("; ") });
      if (decision.action === "defer") {
        if (job.state !== "deferred") void this.#hook("deferred", job.note, decision.reason);
        this.#set(job, "deferred", { reason: decision.reason, deferUntil: decision.until });
        return;
      }
      job = this.#set(job, "installing");
      for (const r of resolved) await this.#install(job, r);
      this.#jobs.setInstalled(
        job.note.component,
        job.note.version,
        job.note.kind === "security",
        job.counter,
      );
      this.#end(job, "succeeded", paths.join("; "));
      this.#o.onMetadataChange?.();
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      const fresh = this.#jobs.get(jobId);
      if (!fresh || isTerminalJobState(fresh.state)) return;
      if (error instanceof JobEnd) this.#end(fresh, error.state, error.message);
      else {
        this.#o.log.debug("update job error", { jobId, stack: (error as Error).stack });
        this.#end(fresh, "failed", (error as Error).message);
      }
    }
  }

  /** The TUF client workflow (TUF spec §5) for each target, then Bulwark's own checks of what it says. */
  async #resolve(job: LocalJob): Promise<Resolved[]> {
    const note = job.note;
    const base = new URL(`/tuf/${note.productId}/`, this.#o.serverUrl).href;
    const store = tufMetadataStore(this.#o.store, note.productId, this.#o.log);
    const updater = new TufUpdater({
      fetcher: httpFetcher({ metadataBaseUrl: base, targetBaseUrl: `${base}targets/`, ...this.#o.tls() }),
      store,
      bootstrapRoot: (await store.read("root.json")) ? undefined : await this.#firstRoot(base),
      policy: "hybrid",
    });
    try {
      await updater.refresh();
    } catch (error) {
      throw new JobEnd("failed", `update metadata refused: ${(error as Error).message}`);
    }
    const resolved: Resolved[] = [];
    for (const t of note.targets) {
      const info = await updater.getTargetInfo(t.path);
      if (!info) throw new JobEnd("failed", `${t.path} is not a signed target of this product`);
      this.#checkTarget(note, info);
      const counter = this.#checkCounter(note, info, updater);
      const name = `${info.target.hashes.sha256}.${t.path.split("/").at(-1)}`;
      const r: Resolved = { info, counter, artifact: t.artifact, file: this.#jobs.downloadPath(name) };
      if ((note.delta ?? "prefer") !== "off") Object.assign(r, await this.#findDelta(updater, r));
      resolved.push(r);
    }
    return resolved;
  }

  /** The image a delta for this target would apply to: the active slot, or the installed config file. */
  #currentImage(r: Pick<Resolved, "artifact" | "info">): string {
    if (r.artifact === "config") return join(this.#settings.configDir, r.info.path.split("/").at(-1)!);
    return this.#slots.imagePath(this.#slots.state().active);
  }

  /**
   * A signed delta from this device's current image (issue #15 item 10): asked of TUF by the path
   * named after the image's SHA-256 (`deltaTargetPath`), then checked against the full target.
   */
  async #findDelta(updater: TufUpdater, r: Resolved): Promise<Pick<Resolved, "delta" | "noDelta">> {
    const base = this.#currentImage(r);
    const mine = await fileSha256(base);
    if (!mine) return { noDelta: "this device has no current image to apply a delta to" };
    const info = await updater.getTargetInfo(deltaTargetPath(r.info.path, mine));
    if (!info) return { noDelta: `no signed delta from this device's image (sha256 ${mine.slice(0, 16)}…)` };
    const custom = parseDeltaCustom(info.target.custom);
    const refused = checkDelta(
      custom,
      info.target.length,
      { path: r.info.path, length: r.info.target.length, sha256: r.info.target.hashes.sha256! },
      mine,
    );
    if (refused) return { noDelta: refused };
    const file = this.#jobs.downloadPath(`${info.target.hashes.sha256}.${info.path.split("/").at(-1)}`);
    return { delta: { info, file, base, custom: custom! } };
  }

  /**
   * One target's bytes into `r.file`: from its delta (downloaded with resume, checked against its
   * own signed hashes, rebuilt and checked against the full target's), or the full image. A refused
   * delta falls back to the full image only when the policy allows it and the metered policy
   * allows the full size; returns which path was taken.
   */
  async #fetch(job: LocalJob, r: Resolved, use: "delta" | "full", policy: DeltaPolicy): Promise<string> {
    const name = r.info.path.split("/").at(-1)!;
    let fallback = "";
    if (use === "delta" && r.delta) {
      try {
        if ((await fileSha256(r.file)) !== r.info.target.hashes.sha256) {
          await this.#download(job, r.delta.info, r.delta.file);
          await applyDelta({
            delta: r.delta.file,
            base: r.delta.base,
            dest: r.file,
            length: r.info.target.length,
            hashes: r.info.target.hashes,
            format:
              r.delta.custom.format === SEGMENTED_DELTA_FORMAT
                ? {
                    format: SEGMENTED_DELTA_FORMAT,
                    segmentBytes: r.delta.custom.segmentBytes!,
                    referenceBytes: r.delta.custom.referenceBytes!,
                  }
                : { format: "zstd-dict" },
          });
          await rm(r.delta.file, { force: true });
        }
        return `${name}: delta of ${r.delta.info.target.length} bytes instead of ${r.info.target.length}`;
      } catch (error) {
        if (this.#abort.signal.aborted || !(error instanceof DeltaRefused || error instanceof JobEnd))
          throw error;
        await rm(r.delta.file, { force: true });
        const reason = `delta refused: ${error.message}`;
        this.#o.log.warn("delta refused", { jobId: job.note.jobId, target: r.info.path, reason });
        if (policy === "require")
          throw new JobEnd("failed", `${reason}; the deployment requires a delta: nothing installed`);
        const hold = planTransfer(
          "off",
          [{ path: r.info.path, fullLength: r.info.target.length }],
          job.note.network,
          this.#settings.metered,
        );
        if (hold.kind === "hold") throw new JobHold(`${reason}; the full image: ${hold.reason}`);
        fallback = ` after ${reason}`;
        this.#o.report(job.note.jobId, { state: "downloading", reason: `${name}: full${fallback}` });
      }
    }
    await this.#download(job, r.info, r.file);
    return `${name}: full image of ${r.info.target.length} bytes${fallback}`;
  }

  /** Trust on first use over the already authenticated TLS channel (the server's pinned root CA). */
  async #firstRoot(base: string): Promise<Buffer> {
    const res = await httpsRequest({
      url: `${base}1.root.json`,
      ...this.#o.tls(),
      maxResponseBytes: 512 * 1024,
    });
    if (res.status !== 200) throw new JobEnd("failed", `no TUF root for this product (HTTP ${res.status})`);
    return res.body;
  }

  /** Wrong software, rollback and hardware: what the signed target's custom fields must agree with. */
  #checkTarget(note: JobNotify, info: TargetInfo): void {
    const custom = info.target.custom ?? {};
    if (custom.version !== note.version)
      throw new JobEnd(
        "failed",
        `the signed target is version ${String(custom.version)}, not ${note.version}`,
      );
    // The release kind decides the deferral rules and the version floor: the signed value, not the
    // job message's, counts (a target published before the field existed has none).
    if (custom.kind !== undefined && custom.kind !== note.kind)
      throw new JobEnd("failed", `the signed target is a ${String(custom.kind)} release, not ${note.kind}`);
    const hardware = (custom.hardware as string[] | undefined) ?? [];
    const mine = this.#settings.hardwareRevision;
    if (hardware.length > 0 && (!mine || !hardware.includes(mine)))
      throw new JobEnd(
        "rejected",
        `the target is for hardware ${hardware.join(", ")}, this device is ${mine ?? "unknown"}`,
      );
    const all = this.#jobs.installed();
    if (note.rollback && all.floorRebuilt)
      throw new JobEnd(
        "rejected",
        "the anti-rollback floor was rebuilt after an integrity failure: rollback jobs are refused",
      );
    const installed = all.components[note.component];
    if (!installed || !semver.valid(installed.version)) return;
    if (!note.rollback && !semver.gt(note.version, installed.version))
      throw new JobEnd(
        "rejected",
        `version ${note.version} is not newer than the installed ${installed.version}`,
      );
    if (note.rollback && installed.floor && semver.lt(note.version, installed.floor))
      throw new JobEnd(
        "rejected",
        `rollback below the anti-rollback floor ${installed.floor} (a security release) refused`,
      );
  }

  /**
   * Anti-rollback by the signed counter (issue #15; TUF spec §4.5 custom): a target whose counter
   * is below the highest one installed is refused, forward or rollback job alike (a rollback to
   * the same counter, the last known-good, passes). A component installed before counters were
   * signed has its floor migrated once, at its first target with a counter: the counter of its
   * installed version, counted from the role's signed targets (`counterFromTargets`, the server's
   * count). A target without a counter (published before counters were signed) has the version
   * rule of `#checkTarget` and, once the component has a counter floor, its counter counted the
   * same way. Returns the signed counter, recorded with the install.
   */
  #checkCounter(note: JobNotify, info: TargetInfo, updater: TufUpdater): number | undefined {
    const signed = signedCounter(info.target);
    if (signed instanceof Error) throw new JobEnd("failed", signed.message);
    const installed = this.#jobs.installed().components[note.component];
    if (!installed) return signed;
    const targets = () => updater.trusted.targets(info.role)?.targets ?? {};
    let floor = installed.counter;
    if (floor === undefined && signed !== undefined) {
      floor = counterFromTargets(targets(), note.component, installed.version);
      if (this.#jobs.raiseCounter(note.component, floor)) {
        this.#o.log.info("anti-rollback floor migrated to a signed counter", {
          component: note.component,
          version: installed.version,
          counter: floor,
        });
        this.#o.onMetadataChange?.();
      }
    }
    if (floor === undefined) return signed;
    const counter = signed ?? counterFromTargets(targets(), note.component, note.version);
    if (counter < floor)
      throw new JobEnd(
        "rejected",
        `rollback below the anti-rollback floor ${floor} (the highest signed counter installed) refused: ${note.version} has counter ${counter}${signed === undefined ? " (counted from the signed targets)" : ""}`,
      );
    return signed;
  }

  async #download(job: LocalJob, info: TargetInfo, file: string): Promise<void> {
    const [name] = targetFileNames(info.path, { sha256: info.target.hashes.sha256! }, true);
    const url = new URL(
      `/tuf/${job.note.productId}/targets/${name!.split("/").map(encodeURIComponent).join("/")}`,
      this.#o.serverUrl,
    ).href;
    // Paced (wire/progress.ts): a report when it says something new, not per chunk.
    const progressDue = progressPacer();
    await downloadWithResume({
      url,
      dest: file,
      length: info.target.length,
      hashes: info.target.hashes,
      tls: this.#o.tls(),
      retries: this.#settings.downloadRetries,
      signal: this.#abort.signal,
      onProgress: (bytes, total) => {
        if (!progressDue(bytes, total)) return;
        this.#o.report(job.note.jobId, { state: "downloading", progress: { bytes, total } });
      },
    }).catch((error: Error) => {
      throw this.#abort.signal.aborted ? error : new JobEnd("failed", `download: ${error.message}`);
    });
  }

  async #install(job: LocalJob, r: Resolved): Promise<void> {
    if (r.artifact === "config") {
      mkdirSync(this.#settings.configDir, { recursive: true, mode: 0o700 });
      await installConfigFile(r.file, join(this.#settings.configDir, r.info.path.split("/").at(-1)!));
    } else await this.#installSlot(job, r);
    if (this.#settings.installHook.length > 0) {
      const hook = await runCommand(this.#settings.installHook, {
        BULWARK_UPDATE_FILE: r.file,
        BULWARK_UPDATE_VERSION: job.note.version,
      });
      if (hook.code !== 0)
        throw new JobEnd("failed", `install hook exited ${hook.code}: ${hook.output.trim()}`);
    }
  }

  /** A/B: write the inactive slot, switch on trial, health check, then commit or roll back. */
  async #installSlot(job: LocalJob, r: Resolved): Promise<void> {
    const slot = await this.#slots.write(r.file);
    await this.#slots.switchTo(slot, job.note.version, job.note.jobId);
    const healthy =
      this.#settings.healthCheck.length > 0
        ? (await runCommand(this.#settings.healthCheck, { BULWARK_UPDATE_SLOT: this.#slots.imagePath(slot) }))
            .code === 0
        : (await this.#slots.digest(slot)) === r.info.target.hashes.sha256;
    if (!healthy) {
      await this.#slots.rollBack();
      throw new JobEnd(
        "rolled_back",
        "the health check failed on the new slot; the previous slot is active again",
      );
    }
    await this.#slots.commit();
  }

  async #hook(event: string, note: JobNotify, reason?: string): Promise<void> {
    if (this.#settings.notifyHook.length === 0) return;
    await runCommand(this.#settings.notifyHook, {
      BULWARK_UPDATE_EVENT: event,
      BULWARK_UPDATE_VERSION: note.version,
      BULWARK_UPDATE_KIND: note.kind,
      BULWARK_UPDATE_REASON: reason ?? "",
    });
  }
}
