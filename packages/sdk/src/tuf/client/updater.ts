import { TufError } from "../errors.ts";
import { checkLengthAndHashes } from "../hashes.ts";
import {
  matchesHashPrefix,
  matchesPathPattern,
  roleFileName,
  rootFileName,
  TIMESTAMP_FILE,
  targetFileNames,
} from "../layout.ts";
import { type DelegatedRole, metaPath, type TargetFile } from "../metadata.ts";
import { onlineKeysRotated } from "../repository/root.ts";
import type { SignaturePolicy } from "../threshold.ts";
import type { TufFetcher } from "./fetcher.ts";
import type { MetadataStore } from "./store.ts";
import { TrustedSet } from "./trusted-set.ts";

/** Download limits for files whose length no trusted role lists (TUF spec §5.3.3 W, §5.4.1 X, §5.5.1 Y, §5.6.1 Z). */
export interface DownloadLimits {
  rootMaxLength: number;
  timestampMaxLength: number;
  snapshotMaxLength: number;
  targetsMaxLength: number;
}

export const DEFAULT_LIMITS: DownloadLimits = {
  rootMaxLength: 512 * 1024,
  timestampMaxLength: 64 * 1024,
  snapshotMaxLength: 2 * 1024 * 1024,
  targetsMaxLength: 5 * 1024 * 1024,
};

export interface UpdaterOptions {
  fetcher: TufFetcher;
  store: MetadataStore;
  /** The root shipped with the device (§5.2), used when the store holds none yet. */
  bootstrapRoot?: Uint8Array;
  /** "hybrid" (Bulwark's default): ECDSA and ML-DSA must each meet every threshold; "classical": ECDSA only. */
  policy?: SignaturePolicy;
  limits?: Partial<DownloadLimits>;
  /** §5.3.3 Y: most root versions fetched in one cycle. */
  maxRootRotations?: number;
  /** §5.6.7.1: most roles visited looking for one target. */
  maxDelegations?: number;
  now?: () => Date;
}

/** What §5.6.7 found for a target path: its TARGETS entry and the role that listed it. */
export interface TargetInfo {
  path: string;
  target: TargetFile;
  role: string;
}

/**
 * The TUF client (TUF spec §5 "Detailed client workflow") over an abstract fetcher and store.
 * `refresh` runs §5.1–§5.6.6 for the top-level roles; `getTargetInfo` the delegation search of
 * §5.6.7; `downloadTarget` §5.7. Nothing is persisted until it has passed every check.
 */
export class TufUpdater {
  readonly #options: UpdaterOptions;
  readonly #limits: DownloadLimits;
  #trusted: TrustedSet | undefined;

  constructor(options: UpdaterOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  /** The trusted metadata of the last successful `refresh`. */
  get trusted(): TrustedSet {
    if (!this.#trusted) throw new TufError("TUF_MALFORMED", "call refresh() first");
    return this.#trusted;
  }

  /** One update cycle of the top-level metadata (§5.1–§5.6.6); throws a `TufError` on any attack. */
  async refresh(): Promise<void> {
    this.#trusted = undefined;
    const now = this.#options.now?.() ?? new Date(); // §5.1 fixed update start time
    const trusted = await this.#loadTrustedRoot(now);
    await this.#loadLocal(trusted);
    await this.#updateRoot(trusted);
    await this.#updateTimestamp(trusted);
    await this.#updateSnapshot(trusted);
    await this.#updateTargets(trusted, "targets", undefined);
    this.#trusted = trusted;
  }

  /** §5.2: the stored root, or the bootstrap root shipped with the device. */
  async #loadTrustedRoot(now: Date): Promise<TrustedSet> {
    const stored = await this.#options.store.read("root.json");
    const bytes = stored ?? this.#options.bootstrapRoot;
    if (!bytes) throw new TufError("TUF_MALFORMED", "no trusted root: give bootstrapRoot");
    const trusted = new TrustedSet(bytes, this.#options.policy ?? "hybrid", now);
    if (!stored) await this.#options.store.write("root.json", bytes);
    return trusted;
  }

  /** The timestamp and snapshot trusted in earlier cycles: the reference for rollback checks. */
  async #loadLocal(trusted: TrustedSet): Promise<void> {
    const timestamp = await this.#options.store.read(TIMESTAMP_FILE);
    const snapshot = await this.#options.store.read("snapshot.json");
    await attempt(async () => timestamp && trusted.updateTimestamp(timestamp, true));
    await attempt(async () => trusted.timestamp && snapshot && trusted.updateSnapshot(snapshot, true));
  }

  /** §5.3: walk root versions N+1, N+2, … until none is found (or Y of them). */
  async #updateRoot(trusted: TrustedSet): Promise<void> {
    const initial = trusted.root;
    const max = this.#options.maxRootRotations ?? 256;
    for (let i = 0; i < max; i++) {
      const bytes = await this.#fetch(rootFileName(trusted.root.version + 1), this.#limits.rootMaxLength);
      if (!bytes) break;
      trusted.updateRoot(bytes);
      await this.#options.store.write("root.json", bytes); // §5.3.8
    }
    trusted.checkRootFinal(); // §5.3.10
    if (onlineKeysRotated(initial, trusted.root)) {
      // §5.3.11: recover from a fast-forward attack after the timestamp or snapshot keys changed.
      trusted.dropTimestampAndSnapshot();
      await this.#options.store.remove(TIMESTAMP_FILE);
      await this.#options.store.remove("snapshot.json");
    }
  }

  /** §5.4. */
  async #updateTimestamp(trusted: TrustedSet): Promise<void> {
    const bytes = await this.#mustFetch(TIMESTAMP_FILE, this.#limits.timestampMaxLength);
    const changed = trusted.updateTimestamp(bytes);
    trusted.checkTimestampFinal(); // §5.4.4, also when the version did not change
    if (changed) await this.#options.store.write(TIMESTAMP_FILE, bytes); // §5.4.5
  }

  /** §5.5: keep the stored snapshot if it is still the one the timestamp lists. */
  async #updateSnapshot(trusted: TrustedSet): Promise<void> {
    if (trusted.snapshot && (await attempt(async () => trusted.checkSnapshotFinal()))) return;
    const listed = trusted.timestamp?.meta["snapshot.json"];
    const version = trusted.root.consistent_snapshot ? listed?.version : undefined;
    const bytes = await this.#mustFetch(
      roleFileName("snapshot", version),
      listed?.length ?? this.#limits.snapshotMaxLength,
    );
    trusted.updateSnapshot(bytes);
    await this.#options.store.write("snapshot.json", bytes); // §5.5.7
  }

  /** §5.6.1–§5.6.6 for one targets role: the stored copy if it is the listed one, else a download. */
  async #updateTargets(trusted: TrustedSet, role: string, delegator: string | undefined): Promise<void> {
    const name = metaPath(role);
    const local = await this.#options.store.read(name);
    if (local && (await attempt(async () => trusted.updateTargets(local, role, delegator)))) return;
    const listed = trusted.snapshot?.meta[name];
    const version = trusted.root.consistent_snapshot ? listed?.version : undefined;
    const bytes = await this.#mustFetch(
      roleFileName(role, version),
      listed?.length ?? this.#limits.targetsMaxLength,
    );
    trusted.updateTargets(bytes, role, delegator);
    await this.#options.store.write(name, bytes); // §5.6.6
  }

  /**
   * §5.6.7: pre-order depth-first search of the delegation graph for `path`, starting at the
   * top-level targets role; only delegations whose paths match are followed (so every role in the
   * chain is trusted for the path), a terminating delegation ends the search, visited roles are
   * skipped and at most `maxDelegations` roles are visited.
   */
  async getTargetInfo(path: string): Promise<TargetInfo | undefined> {
    const trusted = this.trusted;
    const max = this.#options.maxDelegations ?? 32;
    const visited = new Set<string>();
    const stack: { role: string; delegator: string | undefined }[] = [
      { role: "targets", delegator: undefined },
    ];
    while (stack.length > 0 && visited.size < max) {
      const { role, delegator } = stack.pop() as { role: string; delegator: string | undefined };
      if (visited.has(role)) continue;
      visited.add(role);
      if (!trusted.targets(role)) await this.#updateTargets(trusted, role, delegator);
      const targets = trusted.targets(role);
      if (!targets) continue;
      if (Object.hasOwn(targets.targets, path))
        return { path, target: targets.targets[path] as TargetFile, role };
      const children: { role: string; delegator: string }[] = [];
      for (const delegated of targets.delegations?.roles ?? []) {
        if (!delegates(delegated, path)) continue;
        children.push({ role: delegated.name, delegator: role });
        if (delegated.terminating) {
          stack.length = 0; // §5.6.7.2.1: a terminating delegation ends the search after its subtree
          break;
        }
      }
      stack.push(...children.reverse());
    }
    return undefined;
  }

  /** §5.7: download a target up to its listed length and check its length and every hash. */
  async downloadTarget(info: TargetInfo): Promise<Buffer> {
    const consistent = this.trusted.root.consistent_snapshot;
    const [name] = targetFileNames(info.path, info.target.hashes, consistent);
    const bytes = await this.#options.fetcher.fetchTarget(name as string, info.target.length);
    if (!bytes) throw new TufError("TUF_FETCH_FAILED", `target ${info.path} is not on the repository`);
    checkLengthAndHashes(bytes, info.target, `target ${info.path}`);
    return Buffer.from(bytes);
  }

  /** A metadata file, never longer than `maxLength` whatever the fetcher does; undefined if absent. */
  async #fetch(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    const bytes = await this.#options.fetcher.fetchMetadata(name, maxLength);
    if (bytes && bytes.length > maxLength) {
      throw new TufError("TUF_TOO_LARGE", `${name} is longer than ${maxLength} bytes`);
    }
    return bytes;
  }

  async #mustFetch(name: string, maxLength: number): Promise<Uint8Array> {
    const bytes = await this.#fetch(name, maxLength);
    if (!bytes) throw new TufError("TUF_FETCH_FAILED", `${name} is not on the repository`);
    return bytes;
  }
}

/** Whether a delegation covers `path` (§4.5 "paths" or "path_hash_prefixes"). */
function delegates(role: DelegatedRole, path: string): boolean {
  if (role.path_hash_prefixes) return matchesHashPrefix(path, role.path_hash_prefixes);
  return (role.paths ?? []).some((pattern) => matchesPathPattern(path, pattern));
}

/** Run a check on local metadata; a failure means "not usable", never an error of the cycle. */
async function attempt(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch (error) {
    if (error instanceof TufError) return false;
    throw error;
  }
}
