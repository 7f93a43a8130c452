import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { EncryptedStore } from "@bulwark/sdk/store";
import type { JobNotify, JobState } from "@bulwark/sdk/wire/jobs";
import semver from "semver";
import type { AgentLog } from "../log.ts";
import type { FloorAnchor, HeldFloors } from "./tpm-floor.ts";
import { FLOOR_RECORD, INSTALLED_RECORD, JOB_PREFIX, jobRecord, readRecord } from "./update-records.ts";

/** What the agent remembers of a job across restarts. */
export interface LocalJob {
  note: JobNotify;
  firstSeenAt: number;
  state: JobState;
  reason?: string;
  /** The anti-rollback counter signed into the job's targets (`custom.antiRollbackCounter`), once resolved. */
  counter?: number;
}

/**
 * What is installed per component, and its anti-rollback floors: `counter`, the highest signed
 * anti-rollback counter installed (TUF spec §4.5 custom `antiRollbackCounter`, the server's
 * counter: issue #15), absent until the component installs or is migrated to a target that has
 * one; `floor`, the newest security version installed, the rule for targets without a counter.
 */
export interface Installed {
  components: Record<string, { version: string; floor: string | null; counter?: number }>;
  /**
   * The floor was rebuilt after its record failed an integrity check (or went missing): it may be
   * lower than the one that was lost, so every rollback job is refused from then on.
   */
  floorRebuilt?: boolean;
}

/** The anti-rollback floor's own record: only ever raised (`setInstalled`, `raiseCounter`). */
interface FloorRecord {
  components: Record<string, string>;
  /** Per component, the highest signed anti-rollback counter installed. */
  counters?: Record<string, number>;
  rebuilt?: boolean;
}

/** The higher of two counters; undefined only if both are. */
const higher = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

const counterOf = (n: number | undefined): { counter?: number } => (n === undefined ? {} : { counter: n });

/** The newer of two versions (semver where both are valid); null only if both are. */
export function newer(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  if (semver.valid(a) && semver.valid(b)) return semver.gt(b, a) ? b : a;
  return a;
}

/**
 * The agent's jobs, installed versions and anti-rollback floor, as records in the encrypted store
 * (`update-records.ts`): a changed, swapped or truncated record fails AES-256-GCM authentication,
 * is reported as a device security event by the store, and is replaced here by a safe default
 * that never lowers the floor. Downloads stay plain files under `{state}/updates/downloads/` (each
 * is checked against its signed TUF target's length and digests before it is installed).
 *
 * What the store does not detect: a record replaced by an older copy of itself, or the whole store
 * rolled back (`@bulwark/sdk/store` has no monotonic counter). Against a single rolled-back or
 * deleted record the floor is kept in three places — its own record, the installed-versions record
 * and every succeeded security job (for the counter, every succeeded job with a signed counter) —
 * and is the highest of them. Against a copy of the whole store
 * put back, the floor is also held by an anchor outside the device's storage where there is one
 * (`tpm-floor.ts`: a TPM NV index); without one, such a copy lowers it until the server's record of
 * what the device installed arrives (`raiseToServer`, on each connection). See docs/updates.md
 * "Update state on the device".
 */
export class JobStore {
  readonly #store: EncryptedStore;
  readonly #dir: string;
  readonly #log: AgentLog;
  readonly #anchor: FloorAnchor | undefined;
  /** Job records that failed authentication in this process: reported once, then skipped. */
  readonly #tampered = new Set<string>();

  constructor(store: EncryptedStore, stateDir: string, log: AgentLog, anchor?: FloorAnchor) {
    this.#store = store;
    this.#log = log;
    this.#anchor = anchor;
    this.#dir = join(stateDir, "updates");
    mkdirSync(join(this.#dir, "downloads"), { recursive: true, mode: 0o700 });
  }

  downloadPath(name: string): string {
    return join(this.#dir, "downloads", name);
  }

  get(jobId: string): LocalJob | undefined {
    return this.#read(jobRecord(jobId));
  }

  /** Whether this job's record failed its integrity check (what it said is unknown). */
  tampered(jobId: string): boolean {
    return this.#tampered.has(jobRecord(jobId));
  }

  put(job: LocalJob): void {
    const name = jobRecord(job.note.jobId);
    this.#store.putJson("state", name, job);
    this.#tampered.delete(name);
  }

  all(): LocalJob[] {
    const jobs: LocalJob[] = [];
    for (const name of this.#store.list("state")) {
      if (!name.startsWith(JOB_PREFIX)) continue;
      const job = this.#read(name);
      if (job) jobs.push(job);
    }
    return jobs;
  }

  #read(name: string): LocalJob | undefined {
    if (this.#tampered.has(name)) return undefined;
    const read = readRecord<LocalJob>(this.#store, name);
    if (read.found) return read.value;
    if (read.tampered) {
      this.#tampered.add(name);
      this.#log.error(
        "update job record failed its integrity check: the job is not run, and is reported failed if the server announces it again",
        { record: name },
      );
    }
    return undefined;
  }

  /**
   * Installed versions and floors. The floor of a component is the highest of its floor record,
   * the installed-versions record and the succeeded security jobs. A record that failed its
   * integrity check, or one missing beside the other, is rebuilt from the rest and written again
   * (so it is reported once); a rebuilt floor refuses rollback jobs from then on.
   */
  installed(): Installed {
    return this.#installed().answer;
  }

  /** The answer, and what may be written back (without a mark that only a failed anchor read set). */
  #installed(): { answer: Installed; persisted: Installed } {
    const installed = readRecord<Installed>(this.#store, INSTALLED_RECORD);
    const floor = readRecord<FloorRecord>(this.#store, FLOOR_RECORD);
    const succeeded = this.all()
      .filter((j) => j.state === "succeeded")
      .sort((a, b) => a.firstSeenAt - b.firstSeenAt);

    // Records are written floor first, then installed (`setInstalled`), so an installed record
    // with no floor record beside it means the floor record was deleted.
    const floorLost = floor.found ? false : floor.tampered || installed.found;
    const installedLost = installed.found ? false : installed.tampered || floor.found;
    const components: Installed["components"] = {};
    if (installed.found)
      for (const [c, v] of Object.entries(installed.value.components))
        components[c] = { version: v.version, floor: v.floor, ...counterOf(v.counter) };
    else
      for (const job of succeeded)
        components[job.note.component] = { version: job.note.version, floor: null };

    const floors = new Map<string, string | null>();
    const raise = (component: string, version: string | null | undefined) =>
      floors.set(component, newer(floors.get(component), version));
    for (const [c, v] of Object.entries(components)) raise(c, v.floor);
    if (floor.found) for (const [c, v] of Object.entries(floor.value.components)) raise(c, v);
    for (const job of succeeded)
      if (job.note.kind === "security") raise(job.note.component, job.note.version);
    const counters = new Map<string, number | undefined>();
    const lift = (component: string, n: number | undefined) =>
      counters.set(component, higher(counters.get(component), n));
    for (const [c, v] of Object.entries(components)) lift(c, v.counter);
    if (floor.found) for (const [c, n] of Object.entries(floor.value.counters ?? {})) lift(c, n);
    for (const job of succeeded) if (job.counter !== undefined) lift(job.note.component, job.counter);
    const anchored = this.#anchored();
    for (const [c, v] of Object.entries(anchored.floors)) raise(c, v);
    for (const [c, n] of Object.entries(anchored.counters)) lift(c, n);
    // The store's floor below the anchor's: an older copy of the store put back (or a crash
    // between the two writes, which raise the anchor first). The higher one applies.
    const recorded = floor.found ? floor.value.components : {};
    const recordedCounters = floor.found ? (floor.value.counters ?? {}) : {};
    const belowAnchor =
      Object.entries(anchored.floors).some(([c, v]) => newer(recorded[c], v) !== recorded[c]) ||
      Object.entries(anchored.counters).some(([c, n]) => (recordedCounters[c] ?? -1) < n);
    for (const [c, f] of floors) {
      // Never below the floor (a rollback job stops at it): a version rolled back with its record,
      // or known only by its floor, is taken as the floor.
      components[c] = { version: newer(components[c]?.version, f) ?? "0.0.0", floor: f };
    }
    for (const [c, n] of counters)
      if (n !== undefined)
        components[c] = {
          version: components[c]?.version ?? "0.0.0",
          floor: components[c]?.floor ?? null,
          counter: n,
        };
    const floorRebuilt = (floor.found && floor.value.rebuilt === true) || floorLost || anchored.failed;

    if (floorLost)
      this.#log.error(
        "anti-rollback floor record failed its integrity check or is missing: rebuilt from the installed versions and the succeeded security jobs; rollback jobs are refused from now on",
      );
    if (installedLost)
      this.#log.error(
        "installed-versions record failed its integrity check or is missing: rebuilt from the anti-rollback floor and the succeeded jobs",
      );
    if (belowAnchor && !floor.found && !installed.found)
      this.#log.info(
        `the anti-rollback floor held in the ${this.#anchor!.where} applies: the store has none (a reset device, or its update records deleted)`,
      );
    if (belowAnchor && floor.found)
      this.#log.error(
        `the anti-rollback floor in the store is below the one held in the ${this.#anchor!.where}: an older copy of the store was put back, or a write was interrupted; the higher floor applies`,
      );
    const result: Installed = { components, ...(floorRebuilt ? { floorRebuilt: true } : {}) };
    const anchorBehind =
      [...floors].some(([c, f]) => f !== null && anchored.floors[c] !== f) ||
      [...counters].some(([c, n]) => n !== undefined && anchored.counters[c] !== n);
    // A failed anchor read marks this answer only (rollback jobs refused while it lasts), not the record.
    const persisted: Installed = {
      components,
      ...(floorRebuilt && !anchored.failed ? { floorRebuilt: true } : {}),
    };
    if (floorLost || installedLost || belowAnchor) this.#write(persisted);
    else if (anchorBehind && !anchored.failed) this.#raiseAnchor(persisted);
    return { answer: result, persisted };
  }

  /**
   * Records an install; the floors only ever rise: the version floor to a security release's
   * version, the counter floor to the install's signed counter (none for a target without one).
   */
  setInstalled(component: string, version: string, security: boolean, counter?: number): void {
    const installed = this.#installed().persisted;
    const before = installed.components[component];
    const floor = before?.floor ?? null;
    const raised = security ? newer(floor, version) : floor;
    installed.components[component] = {
      version,
      floor: raised,
      ...counterOf(higher(before?.counter, counter)),
    };
    this.#write(installed);
  }

  /**
   * Raises a component's counter floor without an install: the migration of a floor kept by
   * version (before targets were signed with a counter) to the counter of the installed version
   * (`update-agent.ts`). Returns whether it rose.
   */
  raiseCounter(component: string, counter: number): boolean {
    const installed = this.#installed().persisted;
    const entry = installed.components[component];
    if (!entry || (entry.counter !== undefined && entry.counter >= counter)) return false;
    installed.components[component] = { ...entry, counter };
    this.#write(installed);
    return true;
  }

  /**
   * Raises counter floors to the server's record of what this device installed (`FloorNotice` on
   * `jobs/notify`, over the device's mutual-TLS session): a second source the device's storage cannot
   * roll back. Only ever raises (a lower or equal counter changes nothing, so a server that lies can
   * at most refuse the device updates it would otherwise take). Returns the floors it raised.
   */
  raiseToServer(counters: Record<string, number>): { component: string; from?: number; to: number }[] {
    const installed = this.#installed().persisted;
    const raised: { component: string; from?: number; to: number }[] = [];
    for (const [component, counter] of Object.entries(counters)) {
      const entry = installed.components[component];
      if (entry?.counter !== undefined && entry.counter >= counter) continue;
      installed.components[component] = {
        version: entry?.version ?? "0.0.0",
        floor: entry?.floor ?? null,
        counter,
      };
      raised.push({
        component,
        ...(entry?.counter === undefined ? {} : { from: entry.counter }),
        to: counter,
      });
    }
    if (raised.length > 0) this.#write(installed);
    return raised;
  }

  /** The anchor's floors; `failed` when it could not be read (said in an error line). */
  #anchored(): HeldFloors & { failed: boolean } {
    if (!this.#anchor) return { floors: {}, counters: {}, failed: false };
    try {
      return { ...this.#anchor.read(), failed: false };
    } catch (error) {
      this.#log.error(
        `the anti-rollback floor in the ${this.#anchor.where} cannot be read: rollback jobs are refused until it can`,
        { reason: (error as Error).message },
      );
      return { floors: {}, counters: {}, failed: true };
    }
  }

  #raiseAnchor(installed: Installed): void {
    if (!this.#anchor) return;
    const floors: Record<string, string> = {};
    const counters: Record<string, number> = {};
    for (const [c, v] of Object.entries(installed.components)) {
      if (v.floor) floors[c] = v.floor;
      if (v.counter !== undefined) counters[c] = v.counter;
    }
    try {
      this.#anchor.raise({ floors, counters }, (a, b) => newer(a, b) ?? a);
    } catch (error) {
      this.#log.error(`the anti-rollback floor could not be raised in the ${this.#anchor.where}`, {
        reason: (error as Error).message,
      });
    }
  }

  /** The anchor first, then the floor record, then the installed versions (atomic, durable store writes). */
  #write(installed: Installed): void {
    this.#raiseAnchor(installed);
    const floors: FloorRecord = { components: {} };
    for (const [c, v] of Object.entries(installed.components)) {
      if (v.floor) floors.components[c] = v.floor;
      if (v.counter !== undefined) floors.counters = { ...floors.counters, [c]: v.counter };
    }
    if (installed.floorRebuilt) floors.rebuilt = true;
    this.#store.putJson("state", FLOOR_RECORD, floors);
    this.#store.putJson("state", INSTALLED_RECORD, { components: installed.components });
  }
}
