import type { PolicySettings } from "@bulwark/sdk/wire/policy";
import { DEFAULT_POLICY_SETTINGS } from "@bulwark/sdk/wire/policy";
import { latestPolicy } from "../../fleet/policies.ts";
import { type Finding, releaseFindings } from "../../software/findings.ts";
import { listSboms, type StoredSbom } from "../../software/sboms.ts";
import type { Queryable } from "../../store/store.ts";
import { listReleases, type Product, type Release } from "../product-source.ts";
import { type ProductProfile, profileOf } from "../profile.ts";
import { currentRiskAssessment, type RiskAssessment } from "../risk.ts";
import { linkedGroups } from "../support.ts";
import { type TestRecord, testRecords } from "../testing.ts";
import type { PlatformCapabilities } from "./platform.ts";

export const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface EvaluationOptions {
  /** `?full=1`: walk the whole audit chain for (2)(l) instead of the entries after the verified point. */
  fullAuditVerification?: boolean;
}

export interface ProductDevice {
  id: string;
  status: string;
  metadata: { listeningPorts?: number[] };
  droppedFields: number;
  eventLogging: string;
}

export interface GroupPolicy {
  group: string;
  /** The policy name, or null when the group has none (its devices keep the agent's defaults). */
  policy: string | null;
  version: number | null;
  settings: PolicySettings;
}

/**
 * What the evaluators read, loaded once per evaluation and shared (each loader runs at most once).
 * Everything here is live platform state: the product's releases, SBOMs, findings, device groups,
 * their policies, devices, test records; nothing is an answer typed in.
 */
export class EvidenceContext {
  readonly db: Queryable;
  readonly product: Product;
  readonly now: number;
  readonly capabilities: PlatformCapabilities;
  /** Verify the whole audit chain for (2)(l), not only the entries after the last verified point. */
  readonly fullAuditVerification: boolean;
  readonly #memo = new Map<string, Promise<unknown>>();

  constructor(
    db: Queryable,
    product: Product,
    capabilities: PlatformCapabilities,
    now = Date.now(),
    options: EvaluationOptions = {},
  ) {
    this.db = db;
    this.product = product;
    this.capabilities = capabilities;
    this.now = now;
    this.fullAuditVerification = options.fullAuditVerification ?? false;
  }

  #once<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.#memo.has(key)) this.#memo.set(key, load());
    return this.#memo.get(key) as Promise<T>;
  }

  profile = (): Promise<ProductProfile | undefined> =>
    this.#once("profile", () => profileOf(this.db, this.product.id));
  risk = (): Promise<RiskAssessment | undefined> =>
    this.#once("risk", () => currentRiskAssessment(this.db, this.product.id));
  releases = (): Promise<Release[]> => this.#once("releases", () => listReleases(this.db, this.product.id));

  /** The release on the market now: the newest one. */
  currentRelease = async (): Promise<Release | undefined> => (await this.releases()).at(-1);

  sboms = (releaseId: string): Promise<StoredSbom[]> =>
    this.#once(`sboms:${releaseId}`, () => listSboms(this.db, releaseId));
  findings = (releaseId: string): Promise<Finding[]> =>
    this.#once(`findings:${releaseId}`, () => releaseFindings(this.db, releaseId));

  /** Every finding of every release of the product. */
  allFindings = async (): Promise<Finding[]> =>
    (await Promise.all((await this.releases()).map((r) => this.findings(r.id)))).flat();

  /** The policy each linked group's devices run (the agent's defaults where a group has none). */
  groupPolicies = (): Promise<GroupPolicy[]> =>
    this.#once("policies", async () => {
      const out: GroupPolicy[] = [];
      for (const g of await linkedGroups(this.db, this.product.id)) {
        const policy = g.policyName ? await latestPolicy(this.db, g.policyName) : undefined;
        out.push({
          group: g.name,
          policy: policy?.name ?? null,
          version: policy?.version ?? null,
          settings: policy?.settings ?? DEFAULT_POLICY_SETTINGS,
        });
      }
      return out;
    });

  /** Devices of the product: in a linked group, or labelled with the product's name or id. */
  devices = (): Promise<ProductDevice[]> =>
    this.#once("devices", async () => {
      const rows = await this.db.all<{
        id: string;
        status: string;
        metadata: string;
        dropped_fields: number;
        event_logging: string | null;
      }>(
        `SELECT d.id, d.status, d.metadata, d.dropped_fields, d.event_logging FROM devices d
         WHERE d.group_id IN (SELECT group_id FROM cra_product_groups WHERE product_id = ?)
            OR d.product = ? OR d.product = ?`,
        [this.product.id, this.product.id, this.product.name],
      );
      return rows.map((r) => ({
        id: r.id,
        status: r.status,
        metadata: JSON.parse(r.metadata) as { listeningPorts?: number[] },
        droppedFields: Number(r.dropped_fields),
        eventLogging: r.event_logging ?? "on",
      }));
    });

  /** Test records of the last twelve months (Annex I Part II (3): "regular"). */
  recentTests = (): Promise<TestRecord[]> =>
    this.#once("tests", async () =>
      (await testRecords(this.db, this.product.id)).filter((t) => t.performedAt >= this.now - YEAR_MS),
    );

  /** Passing records of one kind in the last twelve months. */
  passedTests = async (kind: string): Promise<TestRecord[]> =>
    (await this.recentTests()).filter((t) => t.kind === kind && t.outcome === "pass");
}
