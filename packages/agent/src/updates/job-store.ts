import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { EncryptedStore } from "@bulwark/sdk/store";
import type { JobNotify, JobState } from "@bulwark/sdk/wire/jobs";
import semver from "semver";
import type { AgentLog } from "../log.ts";
import { FLOOR_RECORD, INSTALLED_RECORD, JOB_PREFIX, jobRecord, readRecord } from "./update-records.ts";

/** What the agent remembers of a job across restarts. */
export interface LocalJob {
  note: JobNotify;
  firstSeenAt: number;
  state: JobState;
  reason?: string;
}

/** What is installed per component, and the anti-rollback floor (the newest security version installed). */
export interface Installed {
  components: Record<string, { version: string; floor: string | null }>;
  /**
   * The floor was rebuilt after its record failed an integrity check (or went missing): it may be
   * lower than the one that was lost, so every rollback job is refused from then on.
   */
  floorRebuilt?: boolean;
}

/** The anti-rollback floor's own record: only ever raised (`setInstalled`). */
interface FloorRecord {
  components: Record<string, string>;
  rebuilt?: boolean;
}

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
 * rolled back (`@bulwark/sdk/store` has no monotonic counter yet). Against a single rolled-back or
 * deleted record the floor is kept in three places — its own record, the installed-versions record
 * and every succeeded security job — and is the highest of them; only a rollback of all of them
 * together (a copy of the whole store) lowers it. See docs/updates.md "Update state on the device".
 */
export class JobStore {
  readonly #store: EncryptedStore;
  readonly #dir: string;
  readonly #log: AgentLog;
  /** Job records that failed authentication in this process: reported once, then skipped. */
  readonly #tampered = new Set<string>();

  constructor(store: EncryptedStore, stateDir: string, log: AgentLog) {
    this.#store = store;
    this.#log = log;
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
        components[c] = { version: v.version, floor: v.floor };
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
    for (const [c, f] of floors) {
      // Never below the floor (a rollback job stops at it): a version rolled back with its record,
      // or known only by its floor, is taken as the floor.
      components[c] = { version: newer(components[c]?.version, f) ?? "0.0.0", floor: f };
    }
    const floorRebuilt = (floor.found && floor.value.rebuilt === true) || floorLost;

    if (floorLost)
      this.#log.error(
        "anti-rollback floor record failed its integrity check or is missing: rebuilt from the installed versions and the succeeded security jobs; rollback jobs are refused from now on",
      );
    if (installedLost)
      this.#log.error(
        "installed-versions record failed its integrity check or is missing: rebuilt from the anti-rollback floor and the succeeded jobs",
      );
    const result: Installed = { components, ...(floorRebuilt ? { floorRebuilt: true } : {}) };
    if (floorLost || installedLost) this.#write(result);
    return result;
  }

  /** Records an install; the floor only ever rises (to a security release's version). */
  setInstalled(component: string, version: string, security: boolean): void {
    const installed = this.installed();
    const floor = installed.components[component]?.floor ?? null;
    const raised = security ? newer(floor, version) : floor;
    installed.components[component] = { version, floor: raised };
    this.#write(installed);
  }

  /** The floor record first, then the installed versions: each an atomic, durable store write. */
  #write(installed: Installed): void {
    const floors: FloorRecord = { components: {} };
    for (const [c, v] of Object.entries(installed.components)) if (v.floor) floors.components[c] = v.floor;
    if (installed.floorRebuilt) floors.rebuilt = true;
    this.#store.putJson("state", FLOOR_RECORD, floors);
    this.#store.putJson("state", INSTALLED_RECORD, { components: installed.components });
  }
}
