import type { Queryable } from "../../store/store.ts";

/** Evidence of signed-update delivery, supplied by the updates domain once it exists (issue #15). */
export interface UpdateEvidence {
  /** The product's update repository, if one is live. */
  repository(db: Queryable, productId: string): Promise<{ active: boolean; detail: string } | null>;
  /** Security releases of the product delivered to at least one device. */
  deliveredSecurityReleases(db: Queryable, productId: string): Promise<number>;
}

/** What the platform can do that some requirements need; absent capabilities are reasons, not guesses. */
export interface PlatformCapabilities {
  /** null: no signed-update system is part of this platform build (issue #15 not merged). */
  updates: UpdateEvidence | null;
  /** The HTTPS and MQTT listeners' minimum TLS version, as configured at start. */
  listenerTls: { http: string; mqtt: string };
  /** How custody protects CA and service keys at rest. */
  keyCustody: string;
}
