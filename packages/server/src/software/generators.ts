/** The SBOM generator inputs the server accepts and the engine function for each. */
import { SoftwareError } from "@bulwark/sdk/software/errors";
import { DEFAULT_MAX_SBOM_COMPONENTS } from "@bulwark/sdk/software/sbom/bounds";
import { toCycloneDx } from "@bulwark/sdk/software/sbom/generate/cyclonedx";
import { inventoryFromDpkgStatus } from "@bulwark/sdk/software/sbom/generate/dpkg";
import { inventoryFromFirmwareManifest } from "@bulwark/sdk/software/sbom/generate/firmware";
import type { GenerateOptions, Inventory } from "@bulwark/sdk/software/sbom/generate/model";
import { inventoryFromPackageLock } from "@bulwark/sdk/software/sbom/generate/npm-lock";
import {
  inventoryFromPythonLock,
  inventoryFromRequirements,
} from "@bulwark/sdk/software/sbom/generate/python";
import { toSpdx } from "@bulwark/sdk/software/sbom/generate/spdx";
import { toSpdx3 } from "@bulwark/sdk/software/sbom/generate/spdx3";

export const GENERATOR_INPUTS = [
  "package-lock",
  "requirements",
  "poetry-lock",
  "uv-lock",
  "dpkg-status",
  "firmware-manifest",
] as const;
export type GeneratorInput = (typeof GENERATOR_INPUTS)[number];

/** Builds an inventory with the engine's generator for the named input kind. */
export function inventoryOf(from: GeneratorInput, text: string, subject: string): Inventory {
  switch (from) {
    case "package-lock":
      return inventoryFromPackageLock(text);
    case "requirements":
      return inventoryFromRequirements(text, "requirements.txt", subject);
    case "poetry-lock":
      return inventoryFromPythonLock(text, "poetry.lock", subject);
    case "uv-lock":
      return inventoryFromPythonLock(text, "uv.lock", subject);
    case "dpkg-status":
      return inventoryFromDpkgStatus(text, { subjectName: subject });
    case "firmware-manifest":
      return inventoryFromFirmwareManifest(text);
    default: {
      const never: never = from;
      throw new Error(`unreachable generator input ${String(never)}`);
    }
  }
}

/**
 * What the caller states for BSI TR-03183-2 v2.1.0 and no input holds: the SBOM's creator (§5.2.1,
 * required, never made up) and whether components are distributed under their declared licences.
 */
export interface GenerateStatement {
  creator: { name?: string; contact: string };
  distributionLicences?: "declared";
}

export const GENERATOR_FORMATS = ["cyclonedx", "spdx", "spdx3"] as const;
/** CycloneDX 1.6, SPDX 2.3 ("spdx") or SPDX 3.0.1 ("spdx3", the one BSI TR-03183-2 v2.1.0 §4 accepts). */
export type GeneratorFormat = (typeof GENERATOR_FORMATS)[number];

/** Generates a CycloneDX 1.6, SPDX 2.3 or SPDX 3.0.1 document from a lock file, package database or manifest. */
export function generateSbom(
  from: GeneratorInput,
  text: string,
  subject: string,
  format: GeneratorFormat,
  statement: GenerateStatement,
  at?: Pick<GenerateOptions, "timestamp" | "uuid">,
): unknown {
  const inventory = inventoryOf(from, text, subject);
  // The same bound as an uploaded SBOM: the document made here could not be uploaded otherwise.
  if (inventory.packages.length > DEFAULT_MAX_SBOM_COMPONENTS)
    throw new SoftwareError(
      from === "firmware-manifest" ? "BW_ERR_MANIFEST_INVALID" : "BW_ERR_LOCKFILE_INVALID",
      `the input lists ${inventory.packages.length} packages, the limit is ${DEFAULT_MAX_SBOM_COMPONENTS}`,
    );
  const options: GenerateOptions = { ...at, ...statement };
  if (format === "spdx3") return toSpdx3(inventory, options);
  return format === "spdx" ? toSpdx(inventory, options) : toCycloneDx(inventory, options);
}
