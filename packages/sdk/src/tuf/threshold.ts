import { canonicalBytes } from "./canonical.ts";
import { TufError } from "./errors.ts";
import { type KeyFamily, keyFamily } from "./keys.ts";
import type { Envelope, RoleKeys, TufKey } from "./metadata.ts";
import { verifyCanonical } from "./signatures.ts";

/**
 * Which signatures count toward a role's threshold.
 * - `"classical"`: TUF's own k-of-n as a client that knows only ECDSA keys applies it (stock
 *   tuf-js): ECDSA signatures are counted, ML-DSA keys are skipped.
 * - `"hybrid"` (Bulwark's default): a policy of our client on top of TUF's k-of-n — the ECDSA
 *   signatures AND the ML-DSA signatures must each reach the role's threshold, so forging the
 *   metadata takes breaking both ECDSA P-256 and ML-DSA-65.
 */
export type SignaturePolicy = "classical" | "hybrid";

export interface SignatureCount {
  ecdsa: number;
  "ml-dsa": number;
}

/**
 * Count the valid signatures on `envelope` by keys of `role` (TUF spec §5.3.4 and the other
 * threshold steps): only key ids listed in the role count, and "each KEY MUST only contribute one
 * SIGNATURE"; we also count one public key once even if listed under two key ids (TAP 12 lets key
 * ids be arbitrary, so a key listed twice must not count twice).
 */
export function countSignatures(
  envelope: Envelope,
  role: RoleKeys,
  keys: Record<string, TufKey>,
): SignatureCount {
  const canonical = canonicalBytes(envelope.signed);
  const counted = new Set<string>();
  const count: SignatureCount = { ecdsa: 0, "ml-dsa": 0 };
  for (const signature of envelope.signatures) {
    if (!role.keyids.includes(signature.keyid)) continue;
    const key = Object.hasOwn(keys, signature.keyid) ? keys[signature.keyid] : undefined;
    const family: KeyFamily | undefined = key && keyFamily(key);
    if (!key || !family || counted.has(key.keyval.public)) continue;
    if (verifyCanonical(key, canonical, signature.sig) !== "valid") continue;
    counted.add(key.keyval.public);
    count[family] += 1;
  }
  return count;
}

/** Whether `count` meets `threshold` under `policy`. */
export function meetsThreshold(count: SignatureCount, threshold: number, policy: SignaturePolicy): boolean {
  switch (policy) {
    case "classical":
      return count.ecdsa >= threshold;
    case "hybrid":
      return count.ecdsa >= threshold && count["ml-dsa"] >= threshold;
  }
}

/** Throw `TUF_THRESHOLD_NOT_MET` unless `envelope` is signed by a threshold of `role` under `policy`. */
export function verifyThreshold(
  envelope: Envelope,
  role: RoleKeys,
  keys: Record<string, TufKey>,
  policy: SignaturePolicy,
  what: string,
): void {
  const count = countSignatures(envelope, role, keys);
  if (meetsThreshold(count, role.threshold, policy)) return;
  throw new TufError(
    "TUF_THRESHOLD_NOT_MET",
    `${what}: ${count.ecdsa} ECDSA and ${count["ml-dsa"]} ML-DSA valid signatures, ` +
      `threshold ${role.threshold} under the ${policy} policy`,
  );
}
