import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import { ANNEX_CATEGORIES, admissibleRoutes, type Category, type ConformityRoute } from "./categories.ts";

/** The EU-27 (ISO 3166-1 alpha-2; Greece as EL, as the EU writes it). */
export const MEMBER_STATES = [
  "AT",
  "BE",
  "BG",
  "CY",
  "CZ",
  "DE",
  "DK",
  "EE",
  "EL",
  "ES",
  "FI",
  "FR",
  "HR",
  "HU",
  "IE",
  "IT",
  "LT",
  "LU",
  "LV",
  "MT",
  "NL",
  "PL",
  "PT",
  "RO",
  "SE",
  "SI",
  "SK",
] as const;

/** None is cited in the Official Journal yet (shared/CRA.md, Dec 2026): class I cannot use module A alone. */
export const HARMONISED_STANDARDS_CITED = false;

export interface Party {
  name: string;
  address: string;
  /** ISO 3166-1 alpha-2 (EL for Greece). */
  country: string;
  email: string;
  website?: string;
}

/** A product's CRA data: who places it on the market, where, what it is for, and its category. */
export interface ProductProfile {
  productId: string;
  manufacturer: Party;
  /** Art. 18: authorised representative, when the manufacturer is outside the Union. */
  representative: Party | null;
  /** Art. 19: the importer, if any. */
  importer: Party | null;
  intendedPurpose: string;
  /** Member States where the product is made available (Art. 14(2)(a) early warning). */
  memberStates: string[];
  category: Category;
  /** The Annex III / IV category, by the product's core functionality (Reg. (EU) 2025/2392). */
  annexCategory: string | null;
  categoryRationale: string;
  conformityRoute: ConformityRoute;
  /** Where users get updates (the TUF repository URL once updates/ serves one). */
  updateRepository: string | null;
  updatedBy: string | null;
  updatedAt: number;
}

export type ProfileInput = Omit<ProductProfile, "productId" | "updatedBy" | "updatedAt">;

interface ProfileRow {
  product_id: string;
  manufacturer: string;
  representative: string | null;
  importer: string | null;
  intended_purpose: string;
  member_states: string;
  main_establishment: string;
  category: Category;
  annex_category: string | null;
  category_rationale: string;
  conformity_route: ConformityRoute;
  update_repository: string | null;
  updated_by: string | null;
  updated_at: number;
}

const toProfile = (r: ProfileRow): ProductProfile => ({
  productId: r.product_id,
  manufacturer: JSON.parse(r.manufacturer) as Party,
  representative: r.representative === null ? null : (JSON.parse(r.representative) as Party),
  importer: r.importer === null ? null : (JSON.parse(r.importer) as Party),
  intendedPurpose: r.intended_purpose,
  memberStates: JSON.parse(r.member_states) as string[],
  category: r.category,
  annexCategory: r.annex_category,
  categoryRationale: r.category_rationale,
  conformityRoute: r.conformity_route,
  updateRepository: r.update_repository,
  updatedBy: r.updated_by,
  updatedAt: Number(r.updated_at),
});

/** Cross-field rules the JSON schema cannot say; throws BW_ERR_VALIDATION naming the field. */
export function checkProfile(input: ProfileInput): void {
  const fail = (detail: string) => {
    throw new BulwarkError("BW_ERR_VALIDATION", detail);
  };
  const listed = ANNEX_CATEGORIES[input.category];
  if (input.category === "default" && input.annexCategory !== null)
    fail("annexCategory: a default-category product has no Annex III/IV category");
  if (input.category !== "default" && (input.annexCategory === null || !listed.includes(input.annexCategory)))
    fail(`annexCategory: must be one of the ${input.category} categories (GET /api/v1/cra/categories)`);
  const routes = admissibleRoutes(input.category, HARMONISED_STANDARDS_CITED);
  // CRA Art. 32(1)–(4): the route must be one the category admits.
  if (!routes.includes(input.conformityRoute))
    fail(`conformityRoute: ${input.category} admits ${routes.join(", ")} (Art. 32)`);
  if (input.memberStates.length === 0) fail("memberStates: name at least one Member State");
}

/**
 * The coordinator CSIRT's Member State, CRA Art. 14(7): the main establishment's; else (a) the
 * authorised representative's; else (b) the importer's; else (d) where the product is made available.
 */
export function coordinatorMemberState(p: ProductProfile): { memberState: string; basis: string } {
  const eu = (c: string) => (MEMBER_STATES as readonly string[]).includes(c);
  if (eu(p.manufacturer.country))
    return {
      memberState: p.manufacturer.country,
      basis: "Art. 14(7): main establishment of the manufacturer",
    };
  if (p.representative && eu(p.representative.country))
    return { memberState: p.representative.country, basis: "Art. 14(7)(a): the authorised representative" };
  if (p.importer && eu(p.importer.country))
    return { memberState: p.importer.country, basis: "Art. 14(7)(b): the importer" };
  return {
    memberState: p.memberStates[0]!,
    basis: "Art. 14(7)(d): the first Member State where the product is made available",
  };
}

export async function profileOf(db: Queryable, productId: string): Promise<ProductProfile | undefined> {
  const row = await db.get<ProfileRow>(`SELECT * FROM cra_product_profiles WHERE product_id = ?`, [
    productId,
  ]);
  return row && toProfile(row);
}

/** Writes the profile (insert or replace) in the caller's transaction. */
export async function saveProfile(
  tx: Queryable,
  productId: string,
  input: ProfileInput,
  by: string | null,
): Promise<ProductProfile> {
  checkProfile(input);
  const profile: ProductProfile = { ...input, productId, updatedBy: by, updatedAt: Date.now() };
  const main = coordinatorMemberState(profile).memberState;
  const values = [
    JSON.stringify(input.manufacturer),
    input.representative && JSON.stringify(input.representative),
    input.importer && JSON.stringify(input.importer),
    input.intendedPurpose,
    JSON.stringify(input.memberStates),
    main,
    input.category,
    input.annexCategory,
    input.categoryRationale,
    input.conformityRoute,
    input.updateRepository,
    by,
    profile.updatedAt,
  ];
  const { changes } = await tx.run(
    `UPDATE cra_product_profiles SET manufacturer = ?, representative = ?, importer = ?, intended_purpose = ?,
      member_states = ?, main_establishment = ?, category = ?, annex_category = ?, category_rationale = ?,
      conformity_route = ?, update_repository = ?, updated_by = ?, updated_at = ? WHERE product_id = ?`,
    [...values, productId],
  );
  if (changes === 0)
    await tx.run(
      `INSERT INTO cra_product_profiles (manufacturer, representative, importer, intended_purpose, member_states,
        main_establishment, category, annex_category, category_rationale, conformity_route, update_repository,
        updated_by, updated_at, product_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [...values, productId],
    );
  return profile;
}
