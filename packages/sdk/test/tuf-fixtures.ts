import type { KeyObject } from "node:crypto";
import {
  buildRoot,
  DEFAULT_EXPIRY,
  type Envelope,
  expiresFor,
  generateKeyPair,
  hashesOf,
  localSigner,
  memoryStore,
  type RoleSigners,
  type Root,
  type Signed,
  signMetadata,
  type TargetFile,
  TOP_LEVEL_ROLES,
  type TopLevelRole,
  type TufFetcher,
  type TufKey,
  TufRepository,
  type TufSigner,
  TufUpdater,
  targetFileNames,
  type UpdaterOptions,
} from "../src/tuf/index.ts";

/** n signers of one role, each holding an ECDSA P-256 key and an ML-DSA-65 key (a hybrid pair). */
export interface Keyring {
  ecdsa: { privateKey: KeyObject; key: TufKey; keyid: string }[];
  mldsa: { privateKey: KeyObject; key: TufKey; keyid: string }[];
  keys: TufKey[];
  signers: TufSigner[];
}

export function keyring(pairs: number): Keyring {
  const ecdsa = Array.from({ length: pairs }, () => generateKeyPair("ecdsa"));
  const mldsa = Array.from({ length: pairs }, () => generateKeyPair("ml-dsa"));
  return {
    ecdsa,
    mldsa,
    keys: [...ecdsa, ...mldsa].map((k) => k.key),
    signers: [...ecdsa, ...mldsa].map((k) => localSigner(k.privateKey)),
  };
}

export interface Fixture {
  clock: { now: Date };
  rings: Record<TopLevelRole, Keyring>;
  repo: TufRepository;
  signers: RoleSigners;
  /** Target bytes by served file name (under the targets base URL). */
  targetFiles: Map<string, Uint8Array>;
  /** The files the fetcher serves; tests replace entries to play an attacker. */
  served: Map<string, Uint8Array>;
  fetcher: TufFetcher;
  /** Copy what the repository has published into `served`. */
  serve(): void;
  addTarget(path: string, bytes: Uint8Array, custom?: TargetFile["custom"], role?: string): void;
  updater(options?: Partial<UpdaterOptions>): TufUpdater;
  rootSpec(
    version: number,
    rings: Record<TopLevelRole, Keyring>,
    thresholds?: Partial<Record<TopLevelRole, number>>,
  ): Root;
}

export const START = new Date("2026-12-01T00:00:00Z");

/** Sign `root` with all given signers (root keys are offline in real life; here they are in memory). */
export function signRoot(root: Root, signers: TufSigner[]): Promise<Envelope<Root>> {
  return signMetadata(root, signers);
}

/** A published repository of one product with one target, hybrid keys for every role. */
export async function fixture(
  options: { rootPairs?: number; rootThreshold?: number; consistent?: boolean; now?: Date } = {},
): Promise<Fixture> {
  const clock = { now: options.now ?? START };
  const rings = {
    root: keyring(options.rootPairs ?? 1),
    targets: keyring(1),
    snapshot: keyring(1),
    timestamp: keyring(1),
  };
  const rootSpec: Fixture["rootSpec"] = (version, r, thresholds = {}) =>
    buildRoot({
      version,
      expires: expiresFor("root", clock.now, DEFAULT_EXPIRY),
      consistentSnapshot: options.consistent ?? true,
      roles: Object.fromEntries(
        TOP_LEVEL_ROLES.map((name) => [
          name,
          {
            keys: r[name].keys,
            threshold: thresholds[name] ?? (name === "root" ? (options.rootThreshold ?? 1) : 1),
          },
        ]),
      ) as Record<TopLevelRole, { keys: TufKey[]; threshold: number }>,
    });
  const root = await signRoot(rootSpec(1, rings), rings.root.signers);
  const repo = TufRepository.create(root, { now: () => clock.now });
  const signers: RoleSigners = {
    targets: rings.targets.signers,
    snapshot: rings.snapshot.signers,
    timestamp: rings.timestamp.signers,
  };
  const targetFiles = new Map<string, Uint8Array>();
  const served = new Map<string, Uint8Array>();
  const fetcher: TufFetcher = {
    fetchMetadata: async (name, maxLength) => served.get(name)?.subarray(0, maxLength + 1),
    fetchTarget: async (name, maxLength) => targetFiles.get(name)?.subarray(0, maxLength + 1),
  };
  const f: Fixture = {
    clock,
    rings,
    repo,
    signers,
    targetFiles,
    served,
    fetcher,
    rootSpec,
    serve() {
      for (const [name, bytes] of repo.files()) served.set(name, bytes);
    },
    addTarget(path, bytes, custom, role = "targets") {
      const target: TargetFile = {
        length: bytes.length,
        hashes: hashesOf(bytes),
        ...(custom ? { custom } : {}),
      };
      repo.setTarget(path, target, role);
      for (const name of targetFileNames(path, target.hashes, repo.consistentSnapshot))
        targetFiles.set(name, bytes);
    },
    updater(overrides = {}) {
      return new TufUpdater({
        fetcher,
        store: memoryStore(),
        bootstrapRoot: repo.files().get("1.root.json"),
        now: () => clock.now,
        ...overrides,
      });
    },
  };
  f.addTarget("firmware/fw-1.0.0.bin", Buffer.from("firmware 1.0.0"), { version: "1.0.0", kind: "feature" });
  await repo.publish(signers);
  f.serve();
  return f;
}

/** Parse a served metadata file. */
export function served<T extends Signed>(f: Fixture, name: string): Envelope<T> {
  return JSON.parse(Buffer.from(f.served.get(name) as Uint8Array).toString()) as Envelope<T>;
}

/** Re-sign a served file after `mutate` changed its `signed` part, as a holder of `signers` could. */
export async function forge<T extends Signed>(
  f: Fixture,
  name: string,
  signers: TufSigner[],
  mutate: (signed: T) => void,
): Promise<Buffer> {
  const envelope = served<T>(f, name);
  mutate(envelope.signed);
  return Buffer.from(JSON.stringify(await signMetadata(envelope.signed, signers)));
}
