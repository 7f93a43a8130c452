/**
 * Product categories and the conformity assessment routes they imply. CRA Art. 7 (important
 * products, Annex III), Art. 8 (critical products, Annex IV), Art. 32 (procedures); the technical
 * description of each category is Implementing Regulation (EU) 2025/2392, which decides by the
 * product's core functionality (a component's category does not pass on).
 */
export const CATEGORIES = ["default", "important-class-i", "important-class-ii", "critical"] as const;
export type Category = (typeof CATEGORIES)[number];

/** Annex III Class I, points 1–19 (CRA Annex III). */
export const ANNEX_III_CLASS_I = [
  "identity management systems and privileged access management software and hardware",
  "standalone and embedded browsers",
  "password managers",
  "software that searches for, removes, or quarantines malicious software",
  "products with digital elements with the function of virtual private network (VPN)",
  "network management systems",
  "security information and event management (SIEM) systems",
  "boot managers",
  "public key infrastructure and digital certificate issuance software",
  "physical and virtual network interfaces",
  "operating systems",
  "routers, modems intended for the connection to the internet, and switches",
  "microprocessors with security-related functionalities",
  "microcontrollers with security-related functionalities",
  "application specific integrated circuits (ASIC) and field-programmable gate arrays (FPGA) with security-related functionalities",
  "smart home general purpose virtual assistants",
  "smart home products with security functionalities",
  "internet connected toys with social interactive or location tracking features",
  "personal wearable products with health monitoring or for children",
] as const;

/** Annex III Class II, points 1–4. */
export const ANNEX_III_CLASS_II = [
  "hypervisors and container runtime systems that support virtualised execution of operating systems",
  "firewalls, intrusion detection and prevention systems",
  "tamper-resistant microprocessors",
  "tamper-resistant microcontrollers",
] as const;

/** Annex IV, points 1–3. */
export const ANNEX_IV = [
  "hardware devices with security boxes",
  "smart meter gateways within smart metering systems and other devices for advanced security purposes, including for secure cryptoprocessing",
  "smartcards or similar devices, including secure elements",
] as const;

export const ANNEX_CATEGORIES: Record<Category, readonly string[]> = {
  default: [],
  "important-class-i": ANNEX_III_CLASS_I,
  "important-class-ii": ANNEX_III_CLASS_II,
  critical: ANNEX_IV,
};

export const CONFORMITY_ROUTES = ["module-a", "module-b+c", "module-h", "eucc"] as const;
export type ConformityRoute = (typeof CONFORMITY_ROUTES)[number];

/**
 * The routes a category admits. Art. 32(1): default → module A (also B+C, H, EUCC);
 * Art. 32(2): class I → A only where harmonised standards, common specifications or an EUCC
 * scheme were applied in full, otherwise B+C or H; Art. 32(3): class II → B+C, H or EUCC;
 * Art. 32(4) with Art. 8(1): critical → EUCC where a delegated act requires it, otherwise as class II.
 */
export function admissibleRoutes(category: Category, harmonisedStandardsApplied: boolean): ConformityRoute[] {
  switch (category) {
    case "default":
      return ["module-a", "module-b+c", "module-h", "eucc"];
    case "important-class-i":
      return harmonisedStandardsApplied
        ? ["module-a", "module-b+c", "module-h", "eucc"]
        : ["module-b+c", "module-h", "eucc"];
    case "important-class-ii":
    case "critical":
      return ["module-b+c", "module-h", "eucc"];
  }
}
