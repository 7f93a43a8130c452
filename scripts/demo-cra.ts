/**
 * The CRA part of `npm run demo` (issue #16): the product's CRA data, its risk assessment, a
 * release shipping a component that CISA lists as known exploited, the Article 14 candidate that
 * opens on its own, and the product's Annex I matrix. Real data: the PyPA advisories and the CISA
 * KEV catalogue under test/data (salt 3000.1 is affected by CVE-2020-11651, which KEV lists).
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const CLI = join(ROOT, "packages/cli/src/main.ts");
const step = (text: string) => process.stdout.write(`\n== ${text}\n`);

const PROFILE = {
  manufacturer: {
    name: "Demo Devices GmbH",
    address: "Demostr. 1, 10115 Berlin",
    country: "DE",
    email: "psirt@demo-devices.example",
  },
  intendedPurpose: "A home and small-office gateway connecting sensors to the maker's cloud",
  memberStates: ["DE", "FR", "NL", "AT"],
  category: "important-class-i",
  annexCategory: "routers, modems intended for the connection to the internet, and switches",
  categoryRationale:
    "Its core functionality is routing between the local network and the internet (Implementing Regulation (EU) 2025/2392)",
  conformityRoute: "module-b+c",
};

const applies = {
  applies: true,
  how: "platform controls (see the Annex I matrix)",
  justification: "in scope of the threat model",
};
const RISK = {
  context: "Internet-facing gateway in homes and small offices, updated over the air",
  assets: [
    { id: "firmware", description: "the gateway firmware and its update channel" },
    { id: "device-key", description: "the device identity key" },
    { id: "telemetry", description: "sensor data in transit" },
  ],
  threats: [
    {
      id: "rce",
      description: "remote code execution through a vulnerable component",
      assets: ["firmware"],
      likelihood: "medium",
      impact: "high",
    },
    {
      id: "clone",
      description: "device impersonation with a stolen key",
      assets: ["device-key"],
      likelihood: "low",
      impact: "high",
    },
    {
      id: "sniff",
      description: "eavesdropping on telemetry",
      assets: ["telemetry"],
      likelihood: "medium",
      impact: "medium",
    },
  ],
  applicability: Object.fromEntries(
    ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"].map((k) => [k, applies]),
  ),
};

export async function craStep(
  work: string,
  env: NodeJS.ProcessEnv,
  product: string,
  advisories: (dir: string, packages: readonly string[]) => Promise<number>,
): Promise<void> {
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [CLI, ...args], { env })).stdout.trim();
  step("CRA: the product's category and conformity route, its risk assessment, its device group");
  writeFileSync(join(work, "cra-profile.json"), JSON.stringify(PROFILE));
  writeFileSync(join(work, "cra-risk.json"), JSON.stringify(RISK));
  await cli("cra", "profile", product, "--file", join(work, "cra-profile.json"));
  process.stdout.write(
    `gateway-fw: ${PROFILE.category} (${PROFILE.annexCategory}) → ${PROFILE.conformityRoute}\n`,
  );
  process.stdout.write(`${await cli("cra", "risk", product, "--file", join(work, "cra-risk.json"))}\n`);
  await cli("cra", "link-group", product, "default");

  step("CRA: release 4.3.0 ships salt 3000.1; the CISA KEV catalogue lists CVE-2020-11651");
  const requirements = join(work, "requirements-4.3.txt");
  writeFileSync(requirements, "jinja2==2.10\nurllib3==1.26.5\nrequests==2.31.0\nsalt==3000.1\n");
  const sbom = join(work, "sbom-4.3.cdx.json");
  writeFileSync(
    sbom,
    await cli(
      "sbom",
      "generate",
      "--from",
      "requirements",
      "--creator",
      "psirt@demo-devices.example",
      "--name",
      "gateway-fw",
      requirements,
    ),
  );
  const release = await cli("release", "create", product, "4.3.0");
  await cli("sbom", "upload", release, sbom);
  const n = await advisories(join(work, "osv-salt"), ["salt"]);
  await cli("vuln", "import", join(work, "osv-salt"));
  await cli("kev", "import", join(ROOT, "test/data/kev/known_exploited_vulnerabilities.json.gz"));
  process.stdout.write(`${n} salt advisories and the KEV catalogue imported\n`);

  // The candidate opens on its own after the import; wait for it (bounded), then show the clock.
  let reports: { id: string; vulnerability: string }[] = [];
  for (let attempt = 0; attempt < 200 && reports.length === 0; attempt++) {
    reports = JSON.parse(
      await cli("cra", "report", "list", "--product", product, "--json"),
    ) as typeof reports;
    if (reports.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  if (reports.length === 0) throw new Error("no Article 14 candidate opened");

  step("CRA Annex I matrix of gateway-fw (bulwark cra matrix)");
  process.stdout.write(`${await cli("cra", "matrix", product)}\n`);

  step(
    `Article 14 clock for ${reports[0]!.vulnerability}, opened on its own from the KEV listing (bulwark cra report show)`,
  );
  process.stdout.write(`${await cli("cra", "report", "show", reports[0]!.id)}\n`);
}
