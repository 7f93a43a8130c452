import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { copyFile, open, rename } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * The A/B slot state (issue #15 item 5). `active` is what boots; while `trial` is set the new
 * slot boots on probation: it is committed only after a passing health check, otherwise — and
 * also when the agent finds a trial left over after a crash or a power loss — the previous slot
 * becomes active again. Written atomically (temporary file, fsync, rename, fsync of the directory).
 */
export interface SlotState {
  active: "a" | "b";
  /** The version each slot holds. */
  versions: { a: string | null; b: string | null };
  trial: { slot: "a" | "b"; previous: "a" | "b"; version: string; jobId: string } | null;
}

const other = (slot: "a" | "b") => (slot === "a" ? "b" : "a");

export class SlotInstaller {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  get statePath(): string {
    return join(this.#dir, "slots.json");
  }

  imagePath(slot: "a" | "b"): string {
    return join(this.#dir, `slot-${slot}.img`);
  }

  state(): SlotState {
    if (!existsSync(this.statePath)) return { active: "a", versions: { a: null, b: null }, trial: null };
    return JSON.parse(readFileSync(this.statePath, "utf8")) as SlotState;
  }

  /** The switch itself: one rename of a fully written, fsynced file (atomic on POSIX file systems). */
  async #save(state: SlotState): Promise<void> {
    const tmp = `${this.statePath}.tmp`;
    const file = await open(tmp, "w", 0o600);
    await file.writeFile(JSON.stringify(state));
    await file.sync();
    await file.close();
    await rename(tmp, this.statePath);
    const dir = await open(dirname(this.statePath), "r");
    await dir.sync();
    await dir.close();
  }

  /** Step 1: write the image into the inactive slot and flush it to disk. */
  async write(image: string): Promise<"a" | "b"> {
    const target = other(this.state().active);
    const tmp = `${this.imagePath(target)}.tmp`;
    await copyFile(image, tmp);
    const file = await open(tmp, "r+");
    await file.sync();
    await file.close();
    await rename(tmp, this.imagePath(target));
    return target;
  }

  /** Step 2: switch to the new slot on trial. */
  async switchTo(slot: "a" | "b", version: string, jobId: string): Promise<void> {
    const state = this.state();
    await this.#save({
      active: slot,
      versions: { ...state.versions, [slot]: version },
      trial: { slot, previous: state.active, version, jobId },
    });
  }

  /** Step 3a: the health check passed: the new slot stays. */
  async commit(): Promise<void> {
    await this.#save({ ...this.state(), trial: null });
  }

  /** Step 3b (or after a crash before commit): back to the previous slot. */
  async rollBack(): Promise<SlotState["trial"]> {
    const state = this.state();
    if (!state.trial) return null;
    await this.#save({ ...state, active: state.trial.previous, trial: null });
    return state.trial;
  }

  /** SHA-256 of the image in a slot (the default health check compares it with the signed target). */
  async digest(slot: "a" | "b"): Promise<string> {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(this.imagePath(slot))) hash.update(chunk as Buffer);
    return hash.digest("hex");
  }
}
