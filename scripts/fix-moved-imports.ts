/**
 * One-off helper for merging branches that predate the layer moves (issue #14 item 3): rewrites
 * relative imports that still point at a moved file, and splits imports of names that moved to
 * another file. Run from the repository root after a merge: `node scripts/fix-moved-imports.ts`,
 * then `npm run typecheck && npm run depcruise`. Delete once no such branch is left.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const S = "packages/server/src/";
const MOVES = new Map<string, string>([
  ...["key-custody", "file-key-custody", "master-key"].map((f) => [`${S}pki/${f}.ts`, `${S}custody/${f}.ts`]),
  ...[
    "est-routes",
    "enrol",
    "enrol-steps",
    "enrolment-tokens",
    "token-routes",
    "claim",
    "registered-devices",
    "provisioning-policy",
    "policy-routes",
    "reenrol",
    "renewal-replay",
    "hardware-serial",
    "hardware-serial.test",
  ].map((f) => [`${S}pki/${f}.ts`, `${S}enrolment/${f}.ts`]),
  [`${S}cra/products.ts`, `${S}products/products.ts`],
  [`${S}http/auth.ts`, `${S}access/access-control.ts`],
  [`${S}access/operator-certificates.ts`, `${S}pki/operator-certificates.ts`],
  [`${S}access/operator-certificate-routes.ts`, `${S}pki/operator-certificate-routes.ts`],
  [`${S}control/cluster-channel.ts`, `${S}mqtt/cluster-channel.ts`],
  [`${S}control/routes.ts`, `${S}fleet/disconnect-routes.ts`],
] as [string, string][]);

/** Names that left a file for another: file → name → new file. */
const NAMES = new Map<string, Record<string, string>>([
  [
    `${S}access/access-control.ts`,
    {
      actorOf: `${S}audit/actor.ts`,
      Principal: `${S}access/principal.ts`,
      productScope: `${S}access/principal.ts`,
      RouteAuth: `${S}access/route-auth.ts`,
      RouteRule: `${S}access/route-auth.ts`,
      requireRouteAuth: `${S}access/route-auth.ts`,
    },
  ],
  [`${S}mqtt/broker.ts`, { BrokerHooks: `${S}fleet/broker-hooks.ts` }],
  [`${S}products/products.ts`, { productRoutes: `${S}products/routes.ts` }],
  [`${S}software/triage.ts`, { setTriage: `${S}software/findings.ts` }],
]);

const SPECIFIER = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\2/g;
const NAMED = /import (type )?\{([^}]*)\} from "([^"]+)";\n/g;

function relativeTo(target: string, file: string): string {
  const path = relative(dirname(file), target);
  return path.startsWith(".") ? path : `./${path}`;
}

function moveTargets(source: string, file: string): string {
  return source.replace(SPECIFIER, (_all, head: string, quote: string, spec: string) => {
    let target = normalize(join(dirname(file), spec));
    if (!existsSync(target)) {
      // A moved file's own relative imports still name its old folder's neighbours.
      const old = [...MOVES].find(([, to]) => to === file)?.[0];
      const fromOld = old && normalize(join(dirname(old), spec));
      target = MOVES.get(target) ?? (fromOld && existsSync(fromOld) ? fromOld : target);
    }
    return `${head}${quote}${relativeTo(target, file)}${quote}`;
  });
}

function splitNames(source: string, file: string): string {
  return source.replace(NAMED, (all, typeOnly: string | undefined, list: string, spec: string) => {
    const target = normalize(join(dirname(file), spec));
    const moved = NAMES.get(target);
    if (!moved) return all;
    const groups = new Map<string, string[]>();
    for (const name of list
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean)) {
      const bare = name.replace(/^type /, "");
      const home = moved[bare] ?? target;
      groups.set(home, [...(groups.get(home) ?? []), name]);
    }
    if (groups.size === 1 && groups.has(target)) return all;
    return [...groups]
      .map(
        ([home, names]) =>
          `import ${typeOnly ?? ""}{ ${names.join(", ")} } from "${relativeTo(home, file)}";\n`,
      )
      .join("");
  });
}

const files = execFileSync("git", ["ls-files", "*.ts"], { encoding: "utf8" }).split("\n").filter(Boolean);
let changed = 0;
for (const file of files) {
  if (!existsSync(file)) continue;
  const before = readFileSync(file, "utf8");
  const after = splitNames(moveTargets(before, file), file);
  if (after !== before) {
    writeFileSync(file, after);
    changed++;
    console.log(`fixed ${file}`);
  }
}
console.log(
  `${changed} file(s) rewritten; now run: npx biome check --write . && npm run typecheck && npm run depcruise`,
);
