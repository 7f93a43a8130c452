import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/**
 * The secure-update part of `npm run demo` (issue #15 item 8): a security release with an
 * advisory and a 1 MiB image, published into the product's TUF repository (ECDSA + ML-DSA-65 on
 * every role), rolled out in two waves to the running agents, which verify it with their TUF
 * client over mutual TLS, install it into their inactive A/B slot, health-check, commit and report.
 * Then a feature release goes out as a binary delta from the installed image.
 */
export async function secureUpdateStep(
  work: string,
  env: NodeJS.ProcessEnv,
  paths: { cli: string; agent: string; stateDirs: string[] },
  step: (text: string) => void,
): Promise<void> {
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [paths.cli, ...args], { env })).stdout.trim();
  step("Secure updates: a security release, signed into the product's TUF repository, rolled out in waves");
  const product = await cli("product", "create", "bw-fleet-firmware");
  const { items } = JSON.parse(await cli("device", "list", "--json")) as { items: { id: string }[] };
  for (const device of items) await cli("device", "set", device.id, "--product", product);
  const release = await cli("release", "create", product, "1.1.0", "--classification", "security");
  const advisory = join(work, "advisory.json");
  writeFileSync(
    advisory,
    JSON.stringify({
      summary: "Fixes a buffer overflow in the firmware's DHCP client",
      severity: "high",
      cves: ["CVE-2026-40001"],
      action: "Installs automatically; defer at most 7 days with bulwark-agent updates defer",
    }),
  );
  await cli("release", "update", release, "--advisory-file", advisory);
  const image = join(work, "firmware-1.1.0.img");
  const bytes = randomBytes(1024 * 1024);
  writeFileSync(image, bytes);
  process.stdout.write(
    `artifact: ${await cli("artifact", "upload", release, image, "--name", "firmware.img")}\n`,
  );
  process.stdout.write(`${await cli("release", "publish", release)}\n`);
  process.stdout.write(`${await cli("tuf", "status", product)}\n`);
  const deployment = await cli("deploy", release, "--group", "default", "--strategy", "waves:34,100");
  process.stdout.write(`deployment ${deployment}: waves of 34 % then 100 %\n`);
  process.stdout.write(`${await cli("deploy", "status", deployment, "--watch", "--interval", "0.5")}\n`);
  await printFirmware();

  // Issue #15 item 10: the next release is published with a binary delta from 1.1.0 beside the
  // full image; the agents whose active slot holds 1.1.0 download ~the change, not the image.
  step("Binary delta: a feature release shipped as a zstd delta from the installed image");
  const next = await cli("release", "create", product, "1.2.0", "--classification", "feature");
  const nextImage = join(work, "firmware-1.2.0.img");
  const patched = Buffer.from(bytes);
  patched.write("bulwark-demo 1.2.0: a new feature in the image", 300_000);
  writeFileSync(nextImage, Buffer.concat([patched, randomBytes(4096)]));
  await cli("artifact", "upload", next, nextImage, "--name", "firmware.img");
  process.stdout.write(`${await cli("release", "publish", next)}\n`);
  const second = await cli("deploy", next, "--group", "default", "--delta", "prefer");
  await cli("deploy", "status", second, "--watch", "--interval", "0.5");
  process.stdout.write(`${await cli("deploy", "jobs", second)}\n`);
  await printFirmware();

  async function printFirmware(): Promise<void> {
    for (const stateDir of paths.stateDirs) {
      const { stdout } = await exec(process.execPath, [
        paths.agent,
        "updates",
        "status",
        "--state-dir",
        stateDir,
      ]);
      const status = JSON.parse(stdout) as { installed: { components: Record<string, { version: string }> } };
      process.stdout.write(
        `${stateDir.split("/").at(-1)}: firmware ${status.installed.components.firmware?.version ?? "-"}\n`,
      );
    }
  }
}
