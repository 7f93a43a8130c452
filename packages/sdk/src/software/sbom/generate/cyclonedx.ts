/** Serialises an inventory as a CycloneDX 1.6 JSON BOM. */
import { randomUUID } from "node:crypto";
import { classifyLicense } from "./licenses.ts";
import type { GeneratedPackage, GenerateOptions, Inventory } from "./model.ts";

const TOOL = { type: "application", name: "bulwark", version: "0.1.0" };
const SUBJECT_REF = "bulwark:subject";

// CycloneDX 1.6 §licenseChoice: either a list of {license: {id|name}} or one {expression}.
function licenseChoice(licenses: string[]): unknown[] | undefined {
  if (licenses.length === 0) return undefined;
  const first = licenses[0]!;
  if (licenses.length === 1 && classifyLicense(first) === "expression") return [{ expression: first }];
  return licenses.map((l) =>
    classifyLicense(l) === "id" ? { license: { id: l } } : { license: { name: l } },
  );
}

function component(p: GeneratedPackage): Record<string, unknown> {
  const c: Record<string, unknown> = { type: "library", "bom-ref": p.ref, name: p.name, version: p.version };
  if (p.supplier !== undefined) c["supplier"] = { name: p.supplier };
  // CycloneDX 1.6 §component.scope: "excluded" marks components not part of the runtime.
  if (p.development) c["scope"] = "excluded";
  const hashes = Object.entries(p.hashes).map(([alg, content]) => ({ alg, content }));
  if (hashes.length > 0) c["hashes"] = hashes;
  const licenses = licenseChoice(p.licenses);
  if (licenses !== undefined) c["licenses"] = licenses;
  if (p.purl !== undefined) c["purl"] = p.purl;
  return c;
}

export function toCycloneDx(inv: Inventory, options: GenerateOptions = {}): Record<string, unknown> {
  const subject: Record<string, unknown> = {
    type: "application",
    "bom-ref": SUBJECT_REF,
    name: inv.subject.name,
  };
  if (inv.subject.version !== undefined) subject["version"] = inv.subject.version;
  if (inv.subject.supplier !== undefined) subject["supplier"] = { name: inv.subject.supplier };
  if (inv.subject.purl !== undefined) subject["purl"] = inv.subject.purl;
  const metadata: Record<string, unknown> = {
    timestamp: options.timestamp ?? new Date().toISOString(),
    // CycloneDX 1.6 §metadata.tools: {components: [...]} (the array form is deprecated).
    tools: { components: [TOOL] },
    component: subject,
  };
  if (options.author !== undefined) metadata["authors"] = [{ name: options.author }];
  const direct = inv.direct ?? inv.packages.map((p) => p.ref);
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${options.uuid ?? randomUUID()}`,
    version: 1,
    metadata,
    components: inv.packages.map(component),
    // CycloneDX 1.6 §dependencies: every component gets an entry, an empty dependsOn meaning "none".
    dependencies: [
      { ref: SUBJECT_REF, dependsOn: [...new Set(direct)] },
      ...inv.packages.map((p) => ({ ref: p.ref, dependsOn: [...new Set(p.dependsOn)] })),
    ],
  };
}
