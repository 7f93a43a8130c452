/**
 * TUF metadata types, field names exactly as the TUF specification 1.0.x §4 "Document formats"
 * spells them (snake_case on the wire), so python-tuf, go-tuf and tuf-js read what we write.
 */

/** The specification version we write (§4.3 SPEC_VERSION); clients compare the major only. */
export const SPEC_VERSION = "1.0.31";

export const TOP_LEVEL_ROLES = ["root", "targets", "snapshot", "timestamp"] as const;
export type TopLevelRole = (typeof TOP_LEVEL_ROLES)[number];

/** §4.2.2 Key objects. `keyval.public` is PEM (SubjectPublicKeyInfo) for both types we write. */
export interface TufKey {
  keytype: string;
  scheme: string;
  keyval: { public: string };
}

/** §4.2.1: one signature of the canonical form of `signed`, hex-encoded. */
export interface TufSignature {
  keyid: string;
  sig: string;
}

/** §4.2.1 Object format: the envelope every metadata file has. */
export interface Envelope<T extends Signed = Signed> {
  signed: T;
  signatures: TufSignature[];
}

/** §4.3 a role's keys and threshold (root's "roles" entries). */
export interface RoleKeys {
  keyids: string[];
  threshold: number;
}

interface SignedCommon {
  spec_version: string;
  version: number;
  /** §4.2.3 "YYYY-MM-DDTHH:MM:SSZ". */
  expires: string;
}

/** §4.3 File formats: root.json. */
export interface Root extends SignedCommon {
  _type: "root";
  consistent_snapshot: boolean;
  keys: Record<string, TufKey>;
  roles: Record<TopLevelRole, RoleKeys>;
}

/** §4.4 / §4.6 METAFILES entry: version, and optionally length and hashes. */
export interface MetaFile {
  version: number;
  length?: number;
  hashes?: Record<string, string>;
}

/** §4.4 File formats: snapshot.json. */
export interface Snapshot extends SignedCommon {
  _type: "snapshot";
  meta: Record<string, MetaFile>;
}

/** §4.6 File formats: timestamp.json; `meta` holds exactly "snapshot.json". */
export interface Timestamp extends SignedCommon {
  _type: "timestamp";
  meta: { "snapshot.json": MetaFile };
}

/** Bulwark's custom fields of a target (§4.5 "custom" is free-form; these are ours). */
export interface BulwarkTargetCustom {
  version?: string;
  kind?: "security" | "feature";
  advisory?: string;
  hardware?: string[];
  [field: string]: unknown;
}

/** §4.5 TARGETS entry. */
export interface TargetFile {
  length: number;
  hashes: Record<string, string>;
  custom?: BulwarkTargetCustom;
}

/** §4.5 DELEGATIONS "roles" entry: exactly one of `paths` / `path_hash_prefixes`, or neither. */
export interface DelegatedRole extends RoleKeys {
  name: string;
  terminating: boolean;
  paths?: string[];
  path_hash_prefixes?: string[];
}

/** §4.5 DELEGATIONS. */
export interface Delegations {
  keys: Record<string, TufKey>;
  roles: DelegatedRole[];
}

/** §4.5 File formats: targets.json and delegated target roles. */
export interface Targets extends SignedCommon {
  _type: "targets";
  targets: Record<string, TargetFile>;
  delegations?: Delegations;
}

export type Signed = Root | Targets | Snapshot | Timestamp;

/** §4.2.3: a Date as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, UTC). */
export function formatExpires(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Whether metadata has expired at `now` (§5.3.10 and the other freeze checks: expires must be later). */
export function isExpired(signed: Signed, now: Date): boolean {
  return Date.parse(signed.expires) <= now.getTime();
}

/** §4.4 METAPATH of a targets role: "targets.json" or "<delegated role>.json". */
export function metaPath(role: string): string {
  return `${role}.json`;
}
