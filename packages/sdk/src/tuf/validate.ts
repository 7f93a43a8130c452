import { TufError } from "./errors.ts";
import {
  type DelegatedRole,
  type Delegations,
  type Envelope,
  type MetaFile,
  type RoleKeys,
  type Signed,
  TOP_LEVEL_ROLES,
  type TufKey,
} from "./metadata.ts";

/**
 * Strict validators for untrusted metadata (TUF spec §4 "Document formats"). Every field the
 * specification defines is checked for type and range; fields it does not define are kept as they
 * are, because the signature covers them (§4.2.1) and later spec versions may add some.
 */
type Json = Record<string, unknown>;
type RoleType = Signed["_type"];
type SignedOf<T extends RoleType> = Extract<Signed, { _type: T }>;

const HEX = /^(?:[0-9a-f]{2})+$/;
/** §4.2.3 date-time: "YYYY-MM-DDTHH:MM:SSZ". */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function fail(where: string, what: string): never {
  throw new TufError("TUF_MALFORMED", `${where}: ${what}`);
}

function object(value: unknown, where: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(where, "must be an object");
  return value as Json;
}

function string(value: unknown, where: string): string {
  if (typeof value !== "string") fail(where, "must be a string");
  return value;
}

function integer(value: unknown, where: string, min: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) fail(where, `must be an integer >= ${min}`);
  return value as number;
}

function uniqueStrings(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) fail(where, "must be an array");
  value.forEach((item, i) => {
    string(item, `${where}[${i}]`);
  });
  if (new Set(value).size !== value.length) fail(where, "has duplicates");
  return value as string[];
}

function hashes(value: unknown, where: string): Record<string, string> {
  const record = object(value, where);
  if (Object.keys(record).length === 0) fail(where, "must list at least one hash");
  for (const [algorithm, digest] of Object.entries(record)) {
    if (!HEX.test(string(digest, `${where}.${algorithm}`)))
      fail(`${where}.${algorithm}`, "must be lowercase hex");
  }
  return record as Record<string, string>;
}

/** §4.2.2 KEY: keytype, scheme, keyval.public as strings; any key type is accepted here. */
function key(value: unknown, where: string): TufKey {
  const k = object(value, where);
  string(k.keytype, `${where}.keytype`);
  string(k.scheme, `${where}.scheme`);
  string(object(k.keyval, `${where}.keyval`).public, `${where}.keyval.public`);
  return k as unknown as TufKey;
}

function keys(value: unknown, where: string): Record<string, TufKey> {
  const record = object(value, where);
  for (const [keyid, k] of Object.entries(record)) key(k, `${where}.${keyid}`);
  return record as Record<string, TufKey>;
}

/** §4.3 / §4.5 THRESHOLD is a positive integer; KEYIDs are unique. */
function roleKeys(value: unknown, where: string): RoleKeys {
  const role = object(value, where);
  uniqueStrings(role.keyids, `${where}.keyids`);
  integer(role.threshold, `${where}.threshold`, 1);
  return role as unknown as RoleKeys;
}

/** §4.4 / §4.6 METAFILES entry. */
function metaFile(value: unknown, where: string): MetaFile {
  const meta = object(value, where);
  integer(meta.version, `${where}.version`, 1);
  if (meta.length !== undefined) integer(meta.length, `${where}.length`, 0);
  if (meta.hashes !== undefined) hashes(meta.hashes, `${where}.hashes`);
  return meta as unknown as MetaFile;
}

/** §4.3 SPEC_VERSION (major 1), VERSION > 0, EXPIRES as §4.2.3. */
function common(signed: Json, where: string): void {
  const spec = string(signed.spec_version, `${where}.spec_version`);
  if (!/^1\.\d+(\.\d+)?$/.test(spec)) fail(`${where}.spec_version`, `unsupported version ${spec}`);
  integer(signed.version, `${where}.version`, 1);
  const expires = string(signed.expires, `${where}.expires`);
  if (!DATE_TIME.test(expires) || Number.isNaN(Date.parse(expires)))
    fail(`${where}.expires`, "not a date-time");
}

function root(signed: Json): void {
  if (signed.consistent_snapshot !== undefined && typeof signed.consistent_snapshot !== "boolean") {
    fail("root.consistent_snapshot", "must be a boolean");
  }
  keys(signed.keys, "root.keys");
  const roles = object(signed.roles, "root.roles");
  for (const name of TOP_LEVEL_ROLES) roleKeys(roles[name], `root.roles.${name}`);
}

function delegatedRole(value: unknown, where: string): DelegatedRole {
  const role = object(roleKeys(value, where), where);
  const name = string(role.name, `${where}.name`);
  if (name.length === 0 || (TOP_LEVEL_ROLES as readonly string[]).includes(name))
    fail(where, `bad role name "${name}"`);
  if (typeof role.terminating !== "boolean") fail(`${where}.terminating`, "must be a boolean");
  if (role.paths !== undefined && role.path_hash_prefixes !== undefined) {
    fail(where, "paths and path_hash_prefixes are mutually exclusive");
  }
  if (role.paths !== undefined) uniqueStrings(role.paths, `${where}.paths`);
  if (role.path_hash_prefixes !== undefined) {
    const prefixes = uniqueStrings(role.path_hash_prefixes, `${where}.path_hash_prefixes`);
    if (prefixes.some((p) => !/^[0-9a-f]+$/.test(p))) fail(`${where}.path_hash_prefixes`, "must be hex");
  }
  return role as unknown as DelegatedRole;
}

function delegations(value: unknown): Delegations {
  const d = object(value, "targets.delegations");
  keys(d.keys, "targets.delegations.keys");
  if (!Array.isArray(d.roles)) fail("targets.delegations.roles", "must be an array");
  const names = d.roles.map((role, i) => delegatedRole(role, `targets.delegations.roles[${i}]`).name);
  if (new Set(names).size !== names.length) fail("targets.delegations.roles", "role names must be unique");
  return d as unknown as Delegations;
}

function targets(signed: Json): void {
  const files = object(signed.targets, "targets.targets");
  for (const [path, value] of Object.entries(files)) {
    const file = object(value, `targets.targets[${path}]`);
    integer(file.length, `targets.targets[${path}].length`, 0);
    hashes(file.hashes, `targets.targets[${path}].hashes`);
    if (file.custom !== undefined) object(file.custom, `targets.targets[${path}].custom`);
  }
  if (signed.delegations !== undefined) delegations(signed.delegations);
}

function snapshot(signed: Json): void {
  const meta = object(signed.meta, "snapshot.meta");
  for (const [path, value] of Object.entries(meta)) metaFile(value, `snapshot.meta[${path}]`);
  if (meta["targets.json"] === undefined) fail("snapshot.meta", 'must list "targets.json"');
}

function timestamp(signed: Json): void {
  const meta = object(signed.meta, "timestamp.meta");
  const paths = Object.keys(meta);
  if (paths.length !== 1 || paths[0] !== "snapshot.json")
    fail("timestamp.meta", 'must hold only "snapshot.json"');
  metaFile(meta["snapshot.json"], "timestamp.meta[snapshot.json]");
}

const BODY: Record<RoleType, (signed: Json) => void> = { root, targets, snapshot, timestamp };

/** Validate a parsed `signed` object as metadata of type `type`. */
export function validateSigned<T extends RoleType>(value: unknown, type: T): SignedOf<T> {
  const signed = object(value, "signed");
  if (signed._type !== type) fail("signed._type", `expected "${type}", got ${JSON.stringify(signed._type)}`);
  common(signed, type);
  BODY[type](signed);
  return signed as unknown as SignedOf<T>;
}

/**
 * Parse and validate downloaded metadata bytes as an envelope of `type` (§4.2.1): `signed` and a
 * `signatures` list whose key ids are unique ("multiple signatures with the same keyid are not allowed").
 */
export function parseMetadata<T extends RoleType>(bytes: Uint8Array, type: T): Envelope<SignedOf<T>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (cause) {
    throw new TufError("TUF_MALFORMED", `${type} metadata is not JSON`, { cause });
  }
  const envelope = object(parsed, type);
  if (!Array.isArray(envelope.signatures)) fail(`${type}.signatures`, "must be an array");
  const keyids = envelope.signatures.map((value, i) => {
    const signature = object(value, `${type}.signatures[${i}]`);
    if (!HEX.test(string(signature.sig, `${type}.signatures[${i}].sig`)))
      fail(`${type}.signatures[${i}].sig`, "must be hex");
    return string(signature.keyid, `${type}.signatures[${i}].keyid`);
  });
  if (new Set(keyids).size !== keyids.length) fail(`${type}.signatures`, "key ids must be unique");
  return { signed: validateSigned(envelope.signed, type), signatures: envelope.signatures } as Envelope<
    SignedOf<T>
  >;
}
