import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { toPem } from "@bulwark/sdk/pem";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, keySigner } from "@bulwark/sdk/x509/certificate";
import { basicConstraints } from "@bulwark/sdk/x509/extensions";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { tempDir } from "../../../test/helpers.ts";
import { main } from "./main.ts";

/** Runs the CLI in-process with an environment of its own; returns exit code and both streams. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, env, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

/** One line on stderr, nothing on stdout, exit 2. */
function usageError(result: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, pattern);
}

describe("CLI: usage, help and version", () => {
  it("prints help on stdout with exit 0, for --help, -h, help and no arguments", async () => {
    for (const argv of [["--help"], ["-h"], ["help"], []]) {
      const r = await cli(argv);
      assert.equal(r.code, 0);
      assert.equal(r.stderr, "");
      assert.match(r.stdout, /^Usage: bulwark <command>/);
      assert.match(r.stdout, /cert revoke SERIAL/);
    }
  });

  it("prints one command's usage for COMMAND --help, before any other check", async () => {
    const r = await cli(["group", "set-policy", "--bogus", "--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Usage: bulwark group set-policy GROUP POLICY|--none\n");
  });

  it("--version prints the CLI's package version", async () => {
    const r = await cli(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^bulwark \d+\.\d+\.\d+\n$/);
  });

  it("an unknown command is named in one line with exit 2", async () => {
    usageError(await cli(["frobnicate"]), /^bulwark: unknown command "frobnicate" \(bulwark --help/);
    usageError(await cli(["device", "frob"]), /^bulwark: unknown command "device frob"/);
    usageError(await cli(["device"]), /^bulwark: "device" needs a subcommand/);
    usageError(await cli(["--frob"]), /^bulwark: unknown option --frob/);
  });

  it("an unknown option, a missing value or a surplus argument is one line with exit 2, before any request", async () => {
    // No BULWARK_URL or key: had a request been attempted, the error would be about those.
    usageError(
      await cli(["group", "list", "--foo"]),
      /^bulwark group list: unknown option --foo \(bulwark group list --help\)/,
    );
    usageError(await cli(["user", "list", "extra"]), /^bulwark user list: unexpected argument "extra"/);
    usageError(await cli(["token", "create", "--group"]), /^bulwark token create: --group needs a value/);
    usageError(await cli(["group", "list", "--json=yes"]), /--json does not take a value/);
    usageError(await cli(["device", "show", "not-a-uuid"]), /device show needs a device ID \(a UUID\)/);
    usageError(
      await cli(["deploy", "0190c1f4-0000-7000-8000-000000000001", "--group", "g", "--delta", "sometimes"]),
      /--delta is off, prefer or require \(default: the product's, else prefer\)/,
    );
    usageError(
      await cli(["group", "set-policy", "g", "p", "--none"]),
      /needs GROUP and POLICY \(or --none\)/,
    );
    usageError(await cli(["sbom", "upload", "r", "f", "g"]), /unexpected argument "g"/);
    usageError(
      await cli(["token", "create", "--group", "g", "--max-uses", "abc"]),
      /--max-uses must be a whole number, got "abc"/,
    );
    usageError(
      await cli(["policy", "set", "g", "--key-algorithms", "a", "--validity-days", "1x"]),
      /--validity-days must be a number/,
    );
  });
});

/** A self-signed certificate: trust material for a request that never gets as far as TLS. */
function someCaFile(): string {
  const keys = generateKeyPair("ecdsa-p256");
  const der = buildCertificate(
    {
      serial: Buffer.from([1]),
      issuerDer: commonNameOnly("test"),
      subjectDer: commonNameOnly("test"),
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      spki: spkiOf(keys.publicKey),
      extensions: [basicConstraints(true)],
    },
    keySigner("ecdsa-p256", keys.privateKey),
  );
  const path = join(tempDir("bulwark-cli-"), "ca.pem");
  writeFileSync(path, toPem("CERTIFICATE", der));
  return path;
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("CLI: reaching the server", () => {
  it("a refused connection says the server is not reachable at that URL (exit 1, one line)", async () => {
    const url = `https://127.0.0.1:${await closedPort()}`;
    const r = await cli(["group", "list"], {
      BULWARK_URL: url,
      BULWARK_CA_FILE: someCaFile(),
      BULWARK_API_KEY: "bwk_test",
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `bulwark group list: the server is not reachable at ${url} (connection refused); check BULWARK_URL\n`,
    );
  });

  it("so does a pinned fingerprint fetch from a server that is not there", async () => {
    const url = `https://127.0.0.1:${await closedPort()}`;
    const r = await cli(["group", "list"], {
      BULWARK_URL: url,
      BULWARK_CA_FINGERPRINT: "a".repeat(64),
      BULWARK_API_KEY: "bwk_test",
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not reachable at https:\/\/127\.0\.0\.1:\d+ \(connection refused\)/);
  });

  it("a BULWARK_URL that is not an https URL is bad usage", async () => {
    usageError(
      await cli(["group", "list"], { BULWARK_URL: "127.0.0.1:8443" }),
      /BULWARK_URL must be an https:\/\/ URL/,
    );
  });
});
