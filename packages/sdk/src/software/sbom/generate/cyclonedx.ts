/**
 * Serialises an inventory as a CycloneDX 1.6 JSON BOM carrying the fields of BSI TR-03183-2 v2.1.0
 * §5.2.1 / §5.2.2 the input knows, mapped as in its §8.2 Tables 8 and 9; a field the input does not
 * know is left out and named in the component's `bulwark:tr-03183-2:unknown` property.
 */
import { randomUUID } from "node:crypto";
import { classifyLicense } from "./licenses.ts";
import {
  type GeneratedPackage,
  type GenerateOptions,
  type Inventory,
  isContact,
  subjectUnknownFields,
  unknownFields,
} from "./model.ts";

const TOOL = { type: "application", name: "bulwark", version: "0.1.0" };
const SUBJECT_REF = "bulwark:subject";
/** Names the TR-03183-2 §5.2.2 fields left out because the input does not know them. */
export const UNKNOWN_PROPERTY = "bulwark:tr-03183-2:unknown";

type Json = Record<string, unknown>;

/**
 * CycloneDX 1.6 §licenseChoice: a list of {license: {id|name, acknowledgement}} or one
 * {expression, acknowledgement}. The input's licences are the ones a package declares (TR §3.2.8
 * original licences, §8.2 "declared"); they are also written as "concluded" (the TR's distribution
 * licences, §8.2 Table 9) only when the SBOM's creator says so (`distributionLicences: "declared"`).
 * An expression can appear once only, so a distributed expression is written as "concluded" alone.
 */
function licenseChoice(licenses: string[], distributed: boolean): unknown[] | undefined {
  if (licenses.length === 0) return undefined;
  const first = licenses[0]!;
  if (licenses.length === 1 && classifyLicense(first) === "expression")
    return [{ expression: first, acknowledgement: distributed ? "concluded" : "declared" }];
  return licenses.flatMap((l): Json[] => {
    if (classifyLicense(l) !== "id") return [{ license: { name: l, acknowledgement: "declared" } }];
    const declared = { license: { id: l, acknowledgement: "declared" } };
    return distributed ? [declared, { license: { id: l, acknowledgement: "concluded" } }] : [declared];
  });
}

/** TR-03183-2 §8.2 Tables 8 / 9: a creator is a manufacturer with a url XOR a contact e-mail. */
function manufacturer(contact: string, name: string | undefined): Json {
  const entity: Json = name === undefined ? {} : { name };
  if (/^https?:/i.test(contact)) entity["url"] = [contact];
  else entity["contact"] = [{ email: contact }];
  return entity;
}

/** A distribution licence is written when the creator said so and the package names an SPDX licence. */
function distributes(p: GeneratedPackage, options: GenerateOptions): boolean {
  return options.distributionLicences === "declared" && p.licenses.some((l) => classifyLicense(l) !== "name");
}

function component(p: GeneratedPackage, options: GenerateOptions): Json {
  const c: Json = { type: "library", "bom-ref": p.ref, name: p.name, version: p.version };
  if (p.supplier !== undefined) c["supplier"] = { name: p.supplier };
  // TR §5.2.2 component creator (§8.2 Table 9: components[].manufacturer).
  if (p.creatorContact !== undefined) c["manufacturer"] = manufacturer(p.creatorContact, p.supplier);
  // CycloneDX 1.6 §component.scope: "excluded" marks components not part of the runtime.
  if (p.development) c["scope"] = "excluded";
  // The hashes are those of the deployable file (npm `integrity` is the tarball's; TR §5.2.2 asks
  // for its SHA-512, which CycloneDX names "SHA-512").
  const hashes = Object.entries(p.hashes).map(([alg, content]) => ({ alg, content }));
  if (hashes.length > 0) c["hashes"] = hashes;
  const licenses = licenseChoice(p.licenses, distributes(p, options));
  if (licenses !== undefined) c["licenses"] = licenses;
  if (p.purl !== undefined) c["purl"] = p.purl;
  // TR §8.2 Table 9: the bsi:component:* property taxonomy.
  const properties: { name: string; value: string }[] = [];
  if (p.filename !== undefined) properties.push({ name: "bsi:component:filename", value: p.filename });
  if (p.fileKind !== undefined)
    properties.push(
      { name: "bsi:component:executable", value: p.fileKind.executable },
      { name: "bsi:component:archive", value: p.fileKind.archive },
      { name: "bsi:component:structured", value: p.fileKind.structured },
    );
  const unknown = unknownFields(p, distributes(p, options));
  if (unknown.length > 0) properties.push({ name: UNKNOWN_PROPERTY, value: unknown.join("; ") });
  if (properties.length > 0) c["properties"] = properties;
  return c;
}

/** TR §5.2.1: the SBOM creator's contact must be an e-mail address or, failing that, a URL. */
export function checkCreator(creator: GenerateOptions["creator"]): void {
  if (creator !== undefined && !isContact(creator.contact))
    throw new RangeError(`the SBOM creator's contact must be an e-mail address or an http(s) URL`);
}

export function toCycloneDx(inv: Inventory, options: GenerateOptions = {}): Json {
  checkCreator(options.creator);
  const subject: Json = {
    type: "application",
    "bom-ref": SUBJECT_REF,
    name: inv.subject.name,
  };
  if (inv.subject.version !== undefined) subject["version"] = inv.subject.version;
  if (inv.subject.supplier !== undefined) subject["supplier"] = { name: inv.subject.supplier };
  if (inv.subject.creatorContact !== undefined)
    subject["manufacturer"] = manufacturer(inv.subject.creatorContact, inv.subject.supplier);
  if (inv.subject.purl !== undefined) subject["purl"] = inv.subject.purl;
  // The subject is the product as a logical component (TR §3.2.2, §8.1.3): no file of its own here.
  const subjectUnknown = [
    ...subjectUnknownFields(inv.subject),
    ...((inv.directCompleteness ?? "unknown") === "unknown" ? ["completeness of the dependencies"] : []),
  ];
  subject["properties"] = [{ name: UNKNOWN_PROPERTY, value: subjectUnknown.join("; ") }];
  const metadata: Json = {
    // TR §5.2.1 timestamp; UTC recommended.
    timestamp: options.timestamp ?? new Date().toISOString(),
    // CycloneDX 1.6 §metadata.tools: {components: [...]} (the array form is deprecated).
    tools: { components: [TOOL] },
    component: subject,
  };
  const creator = options.creator;
  if (creator !== undefined) {
    // TR §5.2.1 creator of the SBOM, §8.2 Table 8: metadata.manufacturer url XOR contact e-mail;
    // CycloneDX §metadata.authors ("the person(s) who created the BOM") with the e-mail too.
    metadata["manufacturer"] = manufacturer(creator.contact, creator.name);
    if (!/^https?:/i.test(creator.contact))
      metadata["authors"] = [
        { ...(creator.name === undefined ? {} : { name: creator.name }), email: creator.contact },
      ];
    else if (creator.name !== undefined) metadata["authors"] = [{ name: creator.name }];
  }
  const direct = inv.direct ?? inv.packages.map((p) => p.ref);
  // CycloneDX 1.6 §compositions: how complete each dependency list is (TR §5.2.2, §8.2 Table 9).
  const byLevel = new Map<string, string[]>();
  const level = (ref: string, l: string) => byLevel.set(l, [...(byLevel.get(l) ?? []), ref]);
  level(SUBJECT_REF, inv.directCompleteness ?? "unknown");
  for (const p of inv.packages) level(p.ref, p.dependencyCompleteness);
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${options.uuid ?? randomUUID()}`,
    version: 1,
    metadata,
    components: inv.packages.map((p) => component(p, options)),
    // CycloneDX 1.6 §dependencies: every component gets an entry, an empty dependsOn meaning "none".
    dependencies: [
      { ref: SUBJECT_REF, dependsOn: [...new Set(direct)] },
      ...inv.packages.map((p) => ({ ref: p.ref, dependsOn: [...new Set(p.dependsOn)] })),
    ],
    compositions: [...byLevel].map(([aggregate, dependencies]) => ({ aggregate, dependencies })),
  };
}
