/**
 * `bulwark --help`: one line per command, in the order an operator meets them. A test keeps it in
 * step with the command table (every command listed, nothing listed that does not exist).
 */
const COMMAND_LINES = `Enrolment and fleet:
  token create --group NAME [--ttl SECONDS] [--max-uses N] [--json]
  device list [--group NAME] [--status STATUS] [--online true|false] [--product P] [--serial S]
              [--sort KEY|-KEY] [--limit N] [--offset N] [--json]
              (KEY: createdAt lastSeenAt status group id serial product)
  device show ID
  device set ID [--serial S] [--product P]
  device disable ID [--reason TEXT]
  device enable ID [--reason TEXT]
  device quarantine ID [--reason TEXT]
  device compromise ID [--reason TEXT]
  device decommission ID [--reason TEXT]
  device transfer OLD_ID NEW_ID [--wait SECONDS]   (OLD's data sealed to NEW, signed by OLD)
  device transfer --status TRANSFER_ID             (state, what it waits on, its deadline or reason)
  group list [--json]
  group create NAME
  group set-policy GROUP POLICY|--none
  policy list [--json]
  policy show NAME
  policy publish NAME --file SETTINGS.json|-
  security-events list [--device ID] [--kind KIND] [--limit N] [--json]
Certificates and CAs:
  cert list [--device ID] [--status valid|revoked] [--kind device|operator|service] [--json]
  cert revoke SERIAL [--reason REASON]   (device certificates; RFC 5280 reason: unspecified,
                                          keyCompromise (also revokes its renewals), superseded, ...)
  ca list [--json]
  ca create --name NAME --role root|device --algorithm ALG [--parent ROOT]
  ca request --name NAME --algorithm ALG          (offline root, step 1: prints the request id and CSR)
  ca import REQUEST_ID --cert FILE --root FILE     (offline root, step 2)
  policy set GROUP --key-algorithms A,B --validity-days N [--renewal-window-days N] [--methods M,N]
             [--issuing-ca CA]                    (the group's provisioning policy)
  serial register GROUP SERIAL [--secret S]       (prints the bootstrap secret once)
Software and vulnerabilities:
  product create NAME
  release create PRODUCT_ID VERSION [--classification security|feature]
  sbom upload RELEASE_ID FILE [--json]
  sbom generate --from KIND --creator EMAIL|URL FILE [--creator-name NAME] [--format cyclonedx|spdx|spdx3] [--name NAME] [--distribution-licences declared]   (offline)
  vuln import PATH [--json]       (PATH: directory, .zip, .tar.gz, .json, .yaml)
  kev import PATH [--json]        (the CISA KEV catalogue, .json or .json.gz)
  findings list [--release ID] [--status open|resolved] [--known-exploited] [--article14] [--limit N] [--json]
  triage FINDING_ID --state STATE [--justification J] [--impact TEXT] [--action TEXT] [--detail TEXT]
  vex export RELEASE_ID [--format openvex|cyclonedx]
  signing-key create LABEL [--out PUBLIC.pem]
  sign ARTIFACT --key SIGNING_KEY_ID [--out FILE]
  verify ARTIFACT SIGNATURE --key PUBLIC.pem      (offline; both signatures must verify)
  scan SBOM --osv PATH [--osv PATH...] [--kev PATH] [--format json|table|sarif] [--fail-on SEVERITY]
       [--ignore-unscored]    (offline; exit 1 when a finding reaches SEVERITY, default low; findings
                               without a CVSS score fail at any SEVERITY but none, unless --ignore-unscored)
Access and audit:
  password change            (BULWARK_USERNAME, BULWARK_PASSWORD, BULWARK_NEW_PASSWORD)
  totp enrol                 (signs in with BULWARK_USERNAME/PASSWORD)
  totp confirm CODE
  api-key create --name NAME [--role ROLE | --permissions P,Q] [--expires-in-days N]
  api-key list [--json]
  api-key revoke ID
  session list [--json]
  session revoke ID|--all|--user USER_ID
  user list [--json]
  user create NAME [--role ROLE]
  user role ID ROLE|none [--product PRODUCT_ID]
  operator-cert issue --out-dir DIR [--user ID] [--days N]
  operator-cert revoke SERIAL
  audit export [--out FILE]
  audit key
  audit verify [--file FILE --public-key PEM] [--json]
CRA compliance:
  cra profile PRODUCT_ID --file PROFILE.json       (manufacturer, category, conformity route, support)
  cra risk PRODUCT_ID --file RISK.json             (a new version of the risk assessment)
  cra link-group PRODUCT_ID GROUP
  cra matrix PRODUCT_ID [--full] [--json]          (the 22 Annex I requirements with their evidence; --full: walk the whole audit chain)
  cra test add|list PRODUCT_ID [--kind K --tool T --outcome pass|fail|partial --summary S]
           [--release ID] [--report FILE]          (security testing records, Annex I Part II (3))
  cra report list|show|draft|submit [EVENT_ID] [--product ID] [--status S] [--json]
           [--stage early-warning|notification|intermediate|final] [--csirt NAME --reference REF]
                                                   (Article 14 events, clocks, drafts, submissions)
  cra report notify|notices EVENT_ID …             (Art. 14(8) notice to the devices on an affected version:)
      notify EVENT_ID --severity low|medium|high|critical [--action TEXT] [--text TEXT] [--version V ...]
      notices EVENT_ID [NOTICE_ID] [--json]       (the notices sent; one notice's delivery per device)
  cra export PRODUCT_ID --out FILE.zip             (Annex VII technical file, Annex V, Annex II)
  cra verify-export FILE.zip [--root ROOT.pem]     (offline)
Secure updates:
  artifact upload RELEASE_ID FILE [--name TARGET] [--kind binary|config] [--json]   (streamed, progress bar)
  artifact list RELEASE_ID [--json]
  release update RELEASE_ID [--component C] [--hardware REV,REV] [--advisory-file ADVISORY.json]
  product update PRODUCT_ID --delta off|prefer|require   (the delta policy of deployments that set none)
  release publish RELEASE_ID                       (into the product's TUF repository)
  tuf status PRODUCT_ID
  tuf keygen --out-dir DIR                         (offline: an ECDSA + ML-DSA-65 root key pair)
  tuf root sign-request|sign|import-signature …    (offline root signing:)
      sign-request PRODUCT_ID [--key PUBLIC.pem ...] [--threshold K] [--out REQUEST.json]
      sign REQUEST.json --key PRIVATE.pem [--out SIG.json]   (offline)
      import-signature PRODUCT_ID SIG.json
  tuf rotate PRODUCT_ID --role targets|snapshot|timestamp|all|root [--out REQUEST.json]
                                                   (new online keys through root N+1; offline root: pending)
  deploy RELEASE_ID --group NAME | --devices ID,… [--strategy all-at-once|waves:P,…,100|rate:N|exponential:IxF/S]
      [--success-gate R] [--pause-after-wave] [--abort-rate R --abort-min N] [--window CRON --time-zone TZ
      --window-minutes N] [--max-deferral-hours H] [--rollback] [--delta off|prefer|require]
      [--spec-file SPEC.json]     (--delta: default the product's, else prefer)
  deploy status ID [--watch] [--interval SECONDS] [--json]
  deploy jobs ID [--json]
  deploy pause ID
  deploy resume ID
  deploy cancel ID`;

export const USAGE = `Usage: bulwark <command> [options]     (bulwark <command> --help: that command alone)
${COMMAND_LINES}
Also: bulwark --help, bulwark --version. Exit codes: 0 done, 1 refused or failed, 2 bad usage.
Environment: BULWARK_URL (default https://127.0.0.1:8443), BULWARK_API_KEY, or
  BULWARK_CLIENT_CERT + BULWARK_CLIENT_KEY (operator certificate), or BULWARK_USERNAME +
  BULWARK_PASSWORD [+ BULWARK_TOTP_CODE | BULWARK_RECOVERY_CODE] (a session per command),
  BULWARK_CA_FILE or BULWARK_CA_FINGERPRINT (server trust; default ./data/root-ca.pem)`;

/** The commands `--help` lists (the first words of each usage line, up to the first argument). */
export function listedCommands(): string[] {
  return COMMAND_LINES.split("\n")
    .filter((line) => /^ {2}[a-z]/.test(line))
    .map((line) => commandOf(line.trim()));
}

function commandOf(line: string): string {
  const words: string[] = [];
  for (const word of line.split(" ")) {
    if (!/^[a-z][a-z0-9-]*$/.test(word)) break;
    words.push(word);
  }
  return words.join(" ");
}

/** The usage lines of one command (with its continuation lines), for `bulwark COMMAND --help`. */
export function usageOf(command: string): string {
  const lines = COMMAND_LINES.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^ {2}[a-z]/.test(lines[i]!) || commandOf(lines[i]!.trim()) !== command) continue;
    out.push(`Usage: bulwark ${lines[i]!.trim()}`);
    for (let j = i + 1; j < lines.length && /^ {4,}/.test(lines[j]!); j++) out.push(`  ${lines[j]!.trim()}`);
  }
  return `${out.join("\n")}\n`;
}
