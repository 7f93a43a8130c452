import { TufError } from "../errors.ts";
import { checkLengthAndHashes } from "../hashes.ts";
import {
  type Envelope,
  isExpired,
  metaPath,
  type Root,
  type Snapshot,
  type Targets,
  type Timestamp,
} from "../metadata.ts";
import { verifyRootSuccessor } from "../repository/root.ts";
import { type SignaturePolicy, verifyThreshold } from "../threshold.ts";
import { parseMetadata } from "../validate.ts";

/**
 * The client's trusted metadata during one update cycle, and the checks each new file must pass
 * before it joins (TUF spec §5.3–§5.6). `now` is the fixed update start time (§5.1).
 *
 * Files read back from the client's own store are loaded with `local: true`: they are checked for
 * signatures and then kept as the reference for rollback checks even when they are stale or
 * expired, and only then checked as *final* (version listed by the parent role, not expired),
 * which throws. The updater catches that for local files and downloads a fresh one.
 */
export class TrustedSet {
  readonly #policy: SignaturePolicy;
  readonly #now: Date;
  #root: Envelope<Root>;
  #timestamp: Envelope<Timestamp> | undefined;
  #snapshot: Envelope<Snapshot> | undefined;
  #snapshotBytes: Uint8Array | undefined;
  readonly #targets = new Map<string, Envelope<Targets>>();

  /** §5.2: the trusted root must be signed by a threshold of its own root keys. */
  constructor(rootBytes: Uint8Array, policy: SignaturePolicy, now: Date) {
    this.#policy = policy;
    this.#now = now;
    const root = parseMetadata(rootBytes, "root");
    verifyThreshold(root, root.signed.roles.root, root.signed.keys, policy, "trusted root");
    this.#root = root;
  }

  get root(): Root {
    return this.#root.signed;
  }
  get timestamp(): Timestamp | undefined {
    return this.#timestamp?.signed;
  }
  get snapshot(): Snapshot | undefined {
    return this.#snapshot?.signed;
  }
  targets(role: string): Targets | undefined {
    return this.#targets.get(role)?.signed;
  }

  /** §5.3.4 (both thresholds), §5.3.5 (exactly N+1); expiry is checked later (§5.3.6, §5.3.10). */
  updateRoot(bytes: Uint8Array): void {
    const next = parseMetadata(bytes, "root");
    verifyRootSuccessor(this.#root.signed, next, this.#policy);
    this.#root = next;
  }

  /** §5.3.10: the final root must not have expired (freeze attack). */
  checkRootFinal(): void {
    if (isExpired(this.#root.signed, this.#now)) {
      throw new TufError(
        "TUF_EXPIRED",
        `root v${this.#root.signed.version} expired at ${this.#root.signed.expires}`,
      );
    }
  }

  /** §5.3.11: forget timestamp and snapshot after their keys were rotated (fast-forward recovery). */
  dropTimestampAndSnapshot(): void {
    this.#timestamp = undefined;
    this.#snapshot = undefined;
    this.#snapshotBytes = undefined;
  }

  /**
   * §5.4: returns false when the new timestamp has the trusted version ("normal": nothing changed,
   * §5.4.3.1), true when it became the trusted timestamp.
   */
  updateTimestamp(bytes: Uint8Array, local = false): boolean {
    const next = parseMetadata(bytes, "timestamp");
    verifyThreshold(
      next,
      this.#root.signed.roles.timestamp,
      this.#root.signed.keys,
      this.#policy,
      "timestamp",
    ); // §5.4.2
    const trusted = this.#timestamp?.signed;
    if (trusted) {
      if (next.signed.version < trusted.version) {
        throw new TufError(
          "TUF_ROLLBACK",
          `timestamp v${next.signed.version} is older than trusted v${trusted.version}`,
        ); // §5.4.3.1
      }
      if (next.signed.version === trusted.version) return false;
      const before = trusted.meta["snapshot.json"].version;
      if (next.signed.meta["snapshot.json"].version < before) {
        throw new TufError(
          "TUF_ROLLBACK",
          `timestamp lists snapshot v${next.signed.meta["snapshot.json"].version} < v${before}`,
        ); // §5.4.3.2
      }
    }
    this.#timestamp = next;
    if (!local) this.checkTimestampFinal();
    return true;
  }

  /** §5.4.4: the trusted timestamp must not have expired. */
  checkTimestampFinal(): void {
    const timestamp = this.#required(this.#timestamp, "timestamp");
    if (isExpired(timestamp.signed, this.#now)) {
      throw new TufError(
        "TUF_EXPIRED",
        `timestamp v${timestamp.signed.version} expired at ${timestamp.signed.expires}`,
      );
    }
  }

  /** §5.5: hashes and length against the timestamp (§5.5.2), signatures, version, rollback, expiry. */
  updateSnapshot(bytes: Uint8Array, local = false): void {
    const listed = this.#required(this.#timestamp, "timestamp").signed.meta["snapshot.json"];
    if (!local) checkLengthAndHashes(bytes, listed, "snapshot"); // §5.5.2
    const next = parseMetadata(bytes, "snapshot");
    verifyThreshold(next, this.#root.signed.roles.snapshot, this.#root.signed.keys, this.#policy, "snapshot"); // §5.5.3
    const trusted = this.#snapshot?.signed;
    if (trusted) {
      // §5.5.5: every targets role listed before is still listed, at the same or a later version.
      for (const [path, before] of Object.entries(trusted.meta)) {
        const after = Object.hasOwn(next.signed.meta, path) ? next.signed.meta[path] : undefined;
        if (!after) throw new TufError("TUF_ROLLBACK", `snapshot no longer lists ${path}`);
        if (after.version < before.version) {
          throw new TufError(
            "TUF_ROLLBACK",
            `snapshot lists ${path} v${after.version} < trusted v${before.version}`,
          );
        }
      }
    }
    this.#snapshot = next;
    this.#snapshotBytes = bytes;
    this.checkSnapshotFinal();
  }

  /**
   * §5.5.2 (length and hashes the timestamp lists, also for a snapshot read back from the store: a
   * stored snapshot of the listed version but other content is not the listed one), §5.5.4
   * (version listed by the timestamp) and §5.5.6 (not expired).
   */
  checkSnapshotFinal(): void {
    const snapshot = this.#required(this.#snapshot, "snapshot").signed;
    const meta = this.#required(this.#timestamp, "timestamp").signed.meta["snapshot.json"];
    checkLengthAndHashes(this.#snapshotBytes as Uint8Array, meta, "snapshot");
    const listed = meta.version;
    if (snapshot.version !== listed) {
      throw new TufError("TUF_MISMATCH", `snapshot v${snapshot.version}, timestamp lists v${listed}`);
    }
    if (isExpired(snapshot, this.#now)) {
      throw new TufError("TUF_EXPIRED", `snapshot v${snapshot.version} expired at ${snapshot.expires}`);
    }
  }

  /**
   * §5.6 for the top-level targets role (`delegator` undefined) or a delegated role: hashes and
   * length against the snapshot (§5.6.2), signatures by the root's or the delegator's keys
   * (§5.6.3), version listed by the snapshot (§5.6.4), not expired (§5.6.5).
   */
  updateTargets(bytes: Uint8Array, role: string, delegator: string | undefined): Targets {
    const snapshot = this.#required(this.#snapshot, "snapshot").signed;
    const listed = Object.hasOwn(snapshot.meta, metaPath(role)) ? snapshot.meta[metaPath(role)] : undefined;
    if (!listed) throw new TufError("TUF_MISMATCH", `snapshot does not list ${metaPath(role)}`);
    checkLengthAndHashes(bytes, listed, role); // also for a stored copy: it must be the listed file
    const next = parseMetadata(bytes, "targets");
    const { keys, roleKeys } = this.#signersOf(role, delegator);
    verifyThreshold(next, roleKeys, keys, this.#policy, role);
    if (next.signed.version !== listed.version) {
      throw new TufError(
        "TUF_MISMATCH",
        `${role} v${next.signed.version}, snapshot lists v${listed.version}`,
      );
    }
    if (isExpired(next.signed, this.#now)) {
      throw new TufError("TUF_EXPIRED", `${role} v${next.signed.version} expired at ${next.signed.expires}`);
    }
    this.#targets.set(role, next);
    return next.signed;
  }

  #signersOf(role: string, delegator: string | undefined) {
    if (delegator === undefined)
      return { keys: this.#root.signed.keys, roleKeys: this.#root.signed.roles.targets };
    const parent = this.#required(this.#targets.get(delegator), delegator).signed;
    const delegated = parent.delegations?.roles.find((r) => r.name === role);
    if (!parent.delegations || !delegated)
      throw new TufError("TUF_MISMATCH", `${delegator} does not delegate ${role}`);
    return { keys: parent.delegations.keys, roleKeys: delegated };
  }

  #required<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new TufError("TUF_MALFORMED", `no trusted ${what} metadata yet`);
    return value;
  }
}
