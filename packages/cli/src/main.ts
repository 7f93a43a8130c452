#!/usr/bin/env node
import { apiClient, CliError } from "./client.ts";
import { COMMANDS } from "./commands.ts";
import { runScan } from "./scan/run.ts";

const USAGE = `Usage: bulwark <command> [options]
  token create --group NAME [--ttl SECONDS] [--max-uses N] [--json]
  device list [--group NAME] [--status STATUS] [--online true|false] [--product P] [--serial S]
              [--sort KEY|-KEY] [--limit N] [--offset N] [--json]
              (KEY: createdAt lastSeenAt status group id serial product)
  device show ID | device set ID [--serial S] [--product P]
  device disable|enable|quarantine|compromise|decommission ID [--reason TEXT]
  group list | group create NAME | group set-policy GROUP POLICY|--none
  policy list | policy show NAME | policy publish NAME --file SETTINGS.json|-
  security-events list [--device ID] [--kind KIND] [--limit N] [--json]
  password change            (BULWARK_USERNAME, BULWARK_PASSWORD, BULWARK_NEW_PASSWORD)
  api-key create --name NAME [--role ROLE | --permissions P,Q] [--expires-in-days N]
  product create NAME | release create PRODUCT_ID VERSION [--classification security|feature]
  sbom upload RELEASE_ID FILE | sbom generate --from KIND FILE [--format cyclonedx|spdx] [--name NAME]
  vuln import PATH (directory, .zip, .tar.gz, .json, .yaml) | kev import PATH
  findings list [--release ID] [--status open|resolved] [--known-exploited] [--article14] [--json]
  triage FINDING_ID --state STATE [--justification J] [--impact TEXT] [--action TEXT] [--detail TEXT]
  vex export RELEASE_ID [--format openvex|cyclonedx]
  signing-key create LABEL [--out PUBLIC.pem] | sign ARTIFACT --key SIGNING_KEY_ID [--out FILE]
  verify ARTIFACT SIGNATURE --key PUBLIC.pem       (offline; both signatures must verify)
  scan SBOM --osv PATH [--osv PATH...] [--kev PATH] [--format json|table|sarif] [--fail-on SEVERITY]
       [--ignore-unscored]    (offline; exit 1 when a finding reaches SEVERITY, default low; findings
                               without a CVSS score fail at any SEVERITY but none, unless --ignore-unscored)
  totp enrol | totp confirm CODE           (signs in with BULWARK_USERNAME/PASSWORD)
  api-key list | api-key revoke ID
  session list | session revoke ID|--all|--user USER_ID
  user list | user create NAME [--role ROLE] | user role ID ROLE [--product PRODUCT_ID]
  operator-cert issue --out-dir DIR [--user ID] [--days N] | operator-cert revoke SERIAL
  audit export [--out FILE] | audit key | audit verify [--file FILE --public-key PEM] [--json]
  artifact upload RELEASE_ID FILE [--name TARGET] [--kind binary|config] | artifact list RELEASE_ID
  release update RELEASE_ID [--component C] [--hardware REV,REV] [--advisory-file FILE]
  release publish RELEASE_ID | tuf status PRODUCT_ID | tuf key generate --out-dir DIR (offline)
  tuf root sign-request PRODUCT_ID [--key PUBLIC.pem ...] [--threshold K] [--out REQUEST.json]
  tuf root sign REQUEST.json --key PRIVATE.pem [--out SIG.json] (offline)
  tuf root import-signature PRODUCT_ID SIG.json
  deploy RELEASE_ID --group NAME | --devices ID,… [--strategy all-at-once|waves:P,…,100|rate:N|exponential:IxF/S]
         [--success-gate R] [--pause-after-wave] [--abort-rate R --abort-min N] [--window CRON --time-zone TZ
         --window-minutes N] [--max-deferral-hours H] [--rollback] [--spec-file SPEC.json]
  deploy status ID [--watch] [--json] | deploy pause|resume|cancel ID
Environment: BULWARK_URL (default https://127.0.0.1:8443), BULWARK_API_KEY, or
  BULWARK_CLIENT_CERT + BULWARK_CLIENT_KEY (operator certificate), or BULWARK_USERNAME +
  BULWARK_PASSWORD [+ BULWARK_TOTP_CODE | BULWARK_RECOVERY_CODE] (a session per command),
  BULWARK_CA_FILE or BULWARK_CA_FINGERPRINT (server trust; default ./data/root-ca.pem)`;

/** Exit codes: 0 success, 1 refused or failed, 2 bad usage. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // `scan` works offline with no server (CI/CD use): it has its own argument parser and exit codes.
  if (argv[0] === "scan") return runScan(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  // Two-word commands ("device list") first, then one-word ones ("verify").
  const twoWords = COMMANDS[argv.slice(0, 2).join(" ")];
  const command = twoWords ?? COMMANDS[argv[0] ?? ""];
  if (!command) {
    process.stderr.write(`${USAGE}\n`);
    return argv.length === 0 || argv[0] === "help" || argv[0] === "--help" ? 0 : 2;
  }
  try {
    return await command(argv.slice(twoWords ? 2 : 1), () => apiClient(env), {
      stdout: (t) => process.stdout.write(t),
      env,
    });
  } catch (error) {
    const exitCode =
      error instanceof CliError
        ? error.exitCode
        : String((error as { code?: string }).code).startsWith("ERR_PARSE_ARGS")
          ? 2
          : 1;
    process.stderr.write(`bulwark: ${(error as Error).message}\n`);
    return exitCode;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
