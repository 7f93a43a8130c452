import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JobNotify, JobState } from "@bulwark/sdk/wire/jobs";
import semver from "semver";
import { writeAtomic } from "../state.ts";

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
}

export class JobStore {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, "updates");
    mkdirSync(join(this.#dir, "jobs"), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.#dir, "downloads"), { recursive: true, mode: 0o700 });
  }

  downloadPath(name: string): string {
    return join(this.#dir, "downloads", name);
  }

  get(jobId: string): LocalJob | undefined {
    const file = join(this.#dir, "jobs", `${jobId}.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as LocalJob) : undefined;
  }

  put(job: LocalJob): void {
    writeAtomic(join(this.#dir, "jobs", `${job.note.jobId}.json`), JSON.stringify(job), 0o600);
  }

  all(): LocalJob[] {
    return readdirSync(join(this.#dir, "jobs"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(this.#dir, "jobs", f), "utf8")) as LocalJob);
  }

  installed(): Installed {
    const file = join(this.#dir, "installed.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Installed) : { components: {} };
  }

  setInstalled(component: string, version: string, security: boolean): void {
    const installed = this.installed();
    const floor = installed.components[component]?.floor ?? null;
    const raised = security && (floor === null || semver.gt(version, floor)) ? version : floor;
    installed.components[component] = { version, floor: raised };
    writeAtomic(join(this.#dir, "installed.json"), JSON.stringify(installed), 0o600);
  }
}
