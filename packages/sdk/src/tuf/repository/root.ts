import { TufError } from "../errors.ts";
import { keyIdOf } from "../keys.ts";
import {
  type Envelope,
  type Root,
  SPEC_VERSION,
  TOP_LEVEL_ROLES,
  type TopLevelRole,
  type TufKey,
} from "../metadata.ts";
import { type SignaturePolicy, verifyThreshold } from "../threshold.ts";

/** One top-level role's keys and k-of-n threshold, as the repository owner describes it. */
export interface RoleSpec {
  keys: TufKey[];
  threshold: number;
}

export interface RootSpec {
  version: number;
  expires: string;
  /** §6.2: Bulwark repositories use consistent snapshots (the default). */
  consistentSnapshot?: boolean;
  roles: Record<TopLevelRole, RoleSpec>;
}

/**
 * The `signed` part of root.json (TUF spec §4.3): every key of every role in "keys" under its key
 * id (§4.2.1, SHA-256 of the canonical key), each role's key ids and threshold in "roles".
 */
export function buildRoot(spec: RootSpec): Root {
  const keys: Record<string, TufKey> = {};
  const roles = {} as Root["roles"];
  for (const name of TOP_LEVEL_ROLES) {
    const role = spec.roles[name];
    if (!Number.isSafeInteger(role.threshold) || role.threshold < 1) {
      throw new TufError("TUF_MALFORMED", `${name}: threshold must be a positive integer`);
    }
    const keyids = role.keys.map((key) => {
      const keyid = keyIdOf(key);
      keys[keyid] = key;
      return keyid;
    });
    roles[name] = { keyids: [...new Set(keyids)], threshold: role.threshold };
  }
  return {
    _type: "root",
    spec_version: SPEC_VERSION,
    version: spec.version,
    expires: spec.expires,
    consistent_snapshot: spec.consistentSnapshot ?? true,
    keys,
    roles,
  };
}

/** Whether root `next` signs with the same timestamp and snapshot keys as `previous` (§5.3.11). */
export function onlineKeysRotated(previous: Root, next: Root): boolean {
  const same = (role: "timestamp" | "snapshot") =>
    [...previous.roles[role].keyids].sort().join() === [...next.roles[role].keyids].sort().join() &&
    previous.roles[role].threshold === next.roles[role].threshold;
  return !same("timestamp") || !same("snapshot");
}

/**
 * Check that `next` may follow `trusted` (TUF spec §5.3.4, §5.3.5): signed by a threshold of the
 * trusted root's root keys AND a threshold of its own root keys, and exactly one version later.
 * The writer applies this before publishing a rotation; the client applies it on every update.
 */
export function verifyRootSuccessor(trusted: Root, next: Envelope<Root>, policy: SignaturePolicy): void {
  verifyThreshold(
    next,
    trusted.roles.root,
    trusted.keys,
    policy,
    `root v${next.signed.version} by root v${trusted.version}`,
  );
  verifyThreshold(
    next,
    next.signed.roles.root,
    next.signed.keys,
    policy,
    `root v${next.signed.version} by itself`,
  );
  if (next.signed.version !== trusted.version + 1) {
    throw new TufError(
      "TUF_ROLLBACK",
      `root v${next.signed.version} does not follow trusted v${trusted.version}`,
    );
  }
}
