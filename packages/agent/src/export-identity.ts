import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "@bulwark/sdk/store";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import { deviceKeyPem } from "./device-store.ts";
import type { AgentLog } from "./log.ts";
import { openMigratedStore } from "./migrate.ts";
import { readState, statePaths } from "./state.ts";

/** What `bulwark-agent export-identity` writes: standard PEM files for openssl, mosquitto, curl. */
export const IDENTITY_FILES = {
  cert: "device.crt", // the device certificate followed by its issuing CA
  key: "device.key", // the device private key, PKCS#8 PEM, in clear (0600)
  ca: "ca.pem", // the CA bundle pinned at enrolment: verifies the server
} as const;

export const EXPORT_WARNING =
  "the device's private key is now in clear in a file: use it for diagnostics only, and delete the directory when done (anyone who reads it can act as this device until its certificate is revoked)";

export class ExportError extends Error {}

/**
 * Writes the device's identity as files standard tools read, for diagnostics (`openssl s_client`,
 * `mosquitto_pub`). The key leaves the encrypted store here and only here, in clear, in a new
 * 0700 directory: the caller warns the user.
 */
export function exportIdentity(
  stateDir: string,
  outDir: string,
  log: AgentLog,
): { deviceId: string; files: string[] } {
  const state = readState(stateDir);
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new ExportError(`${outDir} is not empty: export into a new directory`);
  const paths = statePaths(stateDir);
  const keyPem = deviceKeyPem(openMigratedStore(stateDir, log));
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  chmodSync(outDir, 0o700); // an empty directory that was there already: only this user may enter
  const chain = readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8");
  writeFileAtomic(join(outDir, IDENTITY_FILES.key), Buffer.from(keyPem));
  writeFileAtomic(join(outDir, IDENTITY_FILES.cert), Buffer.from(chain));
  writeFileAtomic(join(outDir, IDENTITY_FILES.ca), readFileSync(paths.ca));
  log.warn("device identity exported in clear", { dir: outDir });
  return { deviceId: state.deviceId, files: Object.values(IDENTITY_FILES).map((f) => join(outDir, f)) };
}

/** Example command lines for the exported files (MQTT client id = device id, as the broker requires). */
export function usageHint(stateDir: string, outDir: string, deviceId: string): string {
  const mqtt = new URL(readState(stateDir).mqttUrl);
  const files = `--cafile ${join(outDir, IDENTITY_FILES.ca)} --cert ${join(outDir, IDENTITY_FILES.cert)} --key ${join(outDir, IDENTITY_FILES.key)}`;
  return [
    `openssl s_client -connect ${mqtt.hostname}:${mqtt.port} -tls1_3 -CAfile ${join(outDir, IDENTITY_FILES.ca)} -cert ${join(outDir, IDENTITY_FILES.cert)} -key ${join(outDir, IDENTITY_FILES.key)}`,
    `mosquitto_pub -h ${mqtt.hostname} -p ${mqtt.port} ${files} --tls-version tlsv1.3 -V mqttv311 -i ${deviceId} -t ${deviceTopics(deviceId).meta} -m '{"model":"diagnostics"}'`,
  ].join("\n");
}
