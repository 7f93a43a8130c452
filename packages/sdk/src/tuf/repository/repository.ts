import { TufError } from "../errors.ts";
import { metaFileOf } from "../hashes.ts";
import { keyIdOf } from "../keys.ts";
import { roleFileName, rootFileName, TIMESTAMP_FILE } from "../layout.ts";
import {
  type DelegatedRole,
  type Envelope,
  metaPath,
  type RoleKeys,
  type Root,
  type Signed,
  type Snapshot,
  SPEC_VERSION,
  type TargetFile,
  type Targets,
  type Timestamp,
  TOP_LEVEL_ROLES,
  type TopLevelRole,
  type TufKey,
} from "../metadata.ts";
import { signMetadata, type TufSigner } from "../signatures.ts";
import { type SignaturePolicy, verifyThreshold } from "../threshold.ts";
import { parseMetadata } from "../validate.ts";
import { DEFAULT_EXPIRY, type ExpiryPolicy, expiresFor } from "./expiry.ts";
import { verifyRootSuccessor } from "./root.ts";

const ROLE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface RepositoryOptions {
  expiry?: ExpiryPolicy;
  /** The policy the writer checks its own output against before publishing (default "hybrid"). */
  policy?: SignaturePolicy;
  now?: () => Date;
}

/** Signers for each role that `publish` or `refreshTimestamp` signs, by role name. */
export type RoleSigners = Record<string, TufSigner[] | undefined>;

/** A delegation of target paths to a component's role (TUF spec §4.5 DELEGATIONS). */
export interface DelegationSpec {
  name: string;
  keys: TufKey[];
  threshold: number;
  paths?: string[];
  pathHashPrefixes?: string[];
  terminating?: boolean;
  /** The delegating role (default "targets"). */
  parent?: string;
}

/**
 * A TUF repository writer for one product (TUF spec §6 "Repository operations"). It keeps the
 * published files (the state: what `/tuf/{productId}/…` serves), edits targets roles as drafts,
 * and on `publish` signs the changed targets roles, then a new snapshot (§6.3.1) and timestamp
 * (§6.3.2) with versions, lengths and hashes. Root versions come in complete, signed offline.
 */
export class TufRepository {
  readonly #files = new Map<string, Buffer>();
  readonly #targets = new Map<string, Envelope<Targets>>();
  readonly #drafts = new Map<string, Targets>();
  readonly #expiry: ExpiryPolicy;
  readonly #policy: SignaturePolicy;
  readonly #now: () => Date;
  #root: Envelope<Root>;
  #snapshot: Envelope<Snapshot> | undefined;
  #timestamp: Envelope<Timestamp> | undefined;

  private constructor(root: Envelope<Root>, options: RepositoryOptions) {
    this.#root = root;
    this.#expiry = options.expiry ?? DEFAULT_EXPIRY;
    this.#policy = options.policy ?? "hybrid";
    this.#now = options.now ?? (() => new Date());
  }

  /** A new repository from its first root, which must be signed by a threshold of its own root keys. */
  static create(root: Envelope<Root>, options: RepositoryOptions = {}): TufRepository {
    const repo = new TufRepository(root, options);
    verifyThreshold(
      root,
      root.signed.roles.root,
      root.signed.keys,
      repo.#policy,
      `root v${root.signed.version}`,
    );
    repo.#write(rootFileName(root.signed.version), root);
    repo.#drafts.set("targets", repo.#emptyTargets());
    return repo;
  }

  /** Reopen a repository from the files it published (the roots, timestamp, snapshot, targets roles). */
  static load(files: ReadonlyMap<string, Uint8Array>, options: RepositoryOptions = {}): TufRepository {
    const roots = [...files.keys()]
      .map((name) => /^(\d+)\.root\.json$/.exec(name)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const read = (name: string) => {
      const bytes = files.get(name);
      if (!bytes) throw new TufError("TUF_MALFORMED", `the repository has no ${name}`);
      return bytes;
    };
    const latest = roots.at(-1);
    if (latest === undefined) throw new TufError("TUF_MALFORMED", "the repository has no root");
    const repo = new TufRepository(parseMetadata(read(rootFileName(latest)), "root"), options);
    for (const [name, bytes] of files) repo.#files.set(name, Buffer.from(bytes));
    if (!files.has(TIMESTAMP_FILE)) {
      repo.#drafts.set("targets", repo.#emptyTargets());
      return repo;
    }
    repo.#timestamp = parseMetadata(read(TIMESTAMP_FILE), "timestamp");
    repo.#snapshot = parseMetadata(
      read(repo.#metaName("snapshot", repo.#timestamp.signed.meta["snapshot.json"].version)),
      "snapshot",
    );
    for (const [path, meta] of Object.entries(repo.#snapshot.signed.meta)) {
      const role = path.slice(0, -".json".length);
      repo.#targets.set(role, parseMetadata(read(repo.#metaName(role, meta.version)), "targets"));
    }
    return repo;
  }

  get root(): Root {
    return this.#root.signed;
  }

  get consistentSnapshot(): boolean {
    return this.#root.signed.consistent_snapshot;
  }

  /** Every published file by its path under the metadata base URL, e.g. "3.root.json", "timestamp.json". */
  files(): ReadonlyMap<string, Buffer> {
    return this.#files;
  }

  /** The current metadata of a role, published or draft, for reading. */
  targets(role = "targets"): Targets | undefined {
    return this.#drafts.get(role) ?? this.#targets.get(role)?.signed;
  }

  /**
   * Publish root version N+1 (TUF spec §6.1 key rotation): refused unless it is signed by a
   * threshold of the current root's keys and of its own (§5.3.4), with the version exactly N+1.
   */
  rotateRoot(next: Envelope<Root>): void {
    verifyRootSuccessor(this.#root.signed, next, this.#policy);
    this.#root = next;
    this.#write(rootFileName(next.signed.version), next);
  }

  /** Add or replace a target in a targets role's draft (§4.5 TARGETS). */
  setTarget(path: string, target: TargetFile, role = "targets"): void {
    // §4.5 TARGETPATH: relative, "/"-separated; we also refuse empty, "." and ".." segments and "\\".
    if (path.includes("\\") || path.split("/").some((part) => part === "" || part === "." || part === "..")) {
      throw new TufError(
        "TUF_MALFORMED",
        `target path "${path}" must be relative, without empty, "." or ".." parts`,
      );
    }
    this.#draft(role).targets[path] = target;
  }

  removeTarget(path: string, role = "targets"): void {
    delete this.#draft(role).targets[path];
  }

  /**
   * Mark a targets role for re-signing at the next `publish` with unchanged targets: a new version
   * and expiry for metadata nearing its expiry (§6.3 "update the metadata before it expires").
   */
  renew(role = "targets"): void {
    this.#draft(role);
  }

  /** Delegate target paths to a new role (one per component), signed by its own keys (§4.5). */
  delegate(spec: DelegationSpec): void {
    // Role names become file names (§5.6.1 "ROLE.json"): we write plain component names only.
    if (!ROLE_NAME.test(spec.name) || TOP_LEVEL_ROLES.includes(spec.name as TopLevelRole)) {
      throw new TufError(
        "TUF_MALFORMED",
        `role name "${spec.name}" must match ${ROLE_NAME}, not a top-level role`,
      );
    }
    const parent = this.#draft(spec.parent ?? "targets");
    if (this.#parentOf(spec.name)) {
      throw new TufError("TUF_MALFORMED", `role ${spec.name} is already delegated`);
    }
    const delegations = parent.delegations ?? { keys: {}, roles: [] };
    const role: DelegatedRole = {
      name: spec.name,
      keyids: [...new Set(spec.keys.map(keyIdOf))],
      threshold: spec.threshold,
      terminating: spec.terminating ?? false,
      ...(spec.pathHashPrefixes
        ? { path_hash_prefixes: spec.pathHashPrefixes }
        : { paths: spec.paths ?? [] }),
    };
    for (const key of spec.keys) delegations.keys[keyIdOf(key)] = key;
    delegations.roles.push(role);
    parent.delegations = delegations;
    this.#drafts.set(spec.name, this.#emptyTargets());
  }

  /**
   * Sign every changed targets role, then a new snapshot listing all targets roles (§6.3.1) and a
   * new timestamp listing the snapshot (§6.3.2). Each role's signatures are checked against its
   * threshold under the repository's policy before anything is written.
   */
  async publish(signers: RoleSigners): Promise<void> {
    const now = this.#now();
    const signed = new Map<string, Envelope<Targets>>();
    for (const [role, draft] of this.#drafts) {
      draft.version = (this.#targets.get(role)?.signed.version ?? 0) + 1;
      draft.expires = expiresFor(role, now, this.#expiry);
      signed.set(role, await this.#sign(draft, role, signers));
    }
    for (const [role, envelope] of signed) {
      this.#targets.set(role, envelope);
      this.#write(this.#metaName(role, envelope.signed.version), envelope);
    }
    this.#drafts.clear();
    await this.#publishSnapshot(now, signers);
    await this.refreshTimestamp(signers);
  }

  /** A new timestamp over the current snapshot (the online key's routine job; §6.3.2). */
  async refreshTimestamp(signers: RoleSigners): Promise<void> {
    const snapshot = this.#snapshot;
    if (!snapshot) throw new TufError("TUF_MALFORMED", "nothing is published yet");
    const name = this.#metaName("snapshot", snapshot.signed.version);
    const timestamp: Timestamp = {
      _type: "timestamp",
      spec_version: SPEC_VERSION,
      version: (this.#timestamp?.signed.version ?? 0) + 1,
      expires: expiresFor("timestamp", this.#now(), this.#expiry),
      meta: { "snapshot.json": metaFileOf(this.#files.get(name) as Buffer, snapshot.signed.version) },
    };
    this.#timestamp = await this.#sign(timestamp, "timestamp", signers);
    this.#write(TIMESTAMP_FILE, this.#timestamp);
  }

  /** Whether the timestamp expires within `seconds` of now: time for `refreshTimestamp`. */
  timestampDue(seconds: number): boolean {
    const expires = this.#timestamp ? Date.parse(this.#timestamp.signed.expires) : 0;
    return expires - this.#now().getTime() <= seconds * 1000;
  }

  async #publishSnapshot(now: Date, signers: RoleSigners): Promise<void> {
    const meta: Snapshot["meta"] = {};
    for (const [role, envelope] of this.#targets) {
      const bytes = this.#files.get(this.#metaName(role, envelope.signed.version)) as Buffer;
      meta[metaPath(role)] = metaFileOf(bytes, envelope.signed.version);
    }
    const snapshot: Snapshot = {
      _type: "snapshot",
      spec_version: SPEC_VERSION,
      version: (this.#snapshot?.signed.version ?? 0) + 1,
      expires: expiresFor("snapshot", now, this.#expiry),
      meta,
    };
    this.#snapshot = await this.#sign(snapshot, "snapshot", signers);
    this.#write(this.#metaName("snapshot", snapshot.version), this.#snapshot);
  }

  async #sign<T extends Signed>(signed: T, role: string, signers: RoleSigners): Promise<Envelope<T>> {
    const envelope = await signMetadata(signed, signers[role] ?? []);
    const { keys, roleKeys } = this.#keysOf(role);
    verifyThreshold(envelope, roleKeys, keys, this.#policy, `${role} v${signed.version}`);
    return envelope;
  }

  /** The keys and threshold that sign `role`: root's for top-level roles, the delegator's otherwise. */
  #keysOf(role: string): { keys: Record<string, TufKey>; roleKeys: RoleKeys } {
    const root = this.#root.signed;
    if (role === "targets" || role === "snapshot" || role === "timestamp") {
      return { keys: root.keys, roleKeys: root.roles[role] };
    }
    const parent = this.#parentOf(role);
    const delegated = parent?.delegations?.roles.find((r) => r.name === role);
    if (!parent?.delegations || !delegated)
      throw new TufError("TUF_MALFORMED", `role ${role} is not delegated`);
    return { keys: parent.delegations.keys, roleKeys: delegated };
  }

  #parentOf(role: string): Targets | undefined {
    const names = new Set([...this.#targets.keys(), ...this.#drafts.keys()]);
    for (const name of names) {
      const targets = this.targets(name);
      if (targets?.delegations?.roles.some((r) => r.name === role)) return targets;
    }
    return undefined;
  }

  #draft(role: string): Targets {
    const existing = this.#drafts.get(role);
    if (existing) return existing;
    const published = this.#targets.get(role);
    if (!published) throw new TufError("TUF_MALFORMED", `no targets role ${role}`);
    const draft = structuredClone(published.signed);
    this.#drafts.set(role, draft);
    return draft;
  }

  #emptyTargets(): Targets {
    return { _type: "targets", spec_version: SPEC_VERSION, version: 0, expires: "", targets: {} };
  }

  /** §6.2: VERSION.ROLE.json with consistent snapshots, ROLE.json without. */
  #metaName(role: string, version: number): string {
    return roleFileName(role, this.consistentSnapshot ? version : undefined);
  }

  #write(name: string, envelope: Envelope): void {
    this.#files.set(name, Buffer.from(JSON.stringify(envelope)));
  }
}
