#!/usr/bin/env node
import { type RunningServer, startServer } from "./app.ts";
import { parseConfig, USAGE } from "./config.ts";

/** `npm start`: runs the server until SIGINT/SIGTERM; prints first-run credentials once. */
async function main(): Promise<number> {
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`bulwark-server: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (config === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const server = await startServer(config);
  printBanner(server);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.log.info({ signal }, "shutting down");
      server.stop().then(resolve, (error) => {
        server.log.error({ err: error }, "shutdown failed");
        resolve();
      });
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}

/** Human-readable start-up facts on stderr; the structured log goes to stdout. */
function printBanner(server: RunningServer): void {
  const lines = [
    "",
    "Bulwark is running.",
    `  HTTPS API  ${server.httpUrl}`,
    `  MQTT/TLS   ${server.mqttUrl}`,
    `  Root CA    ${server.rootPemPath}`,
    `  Root CA SHA-256 fingerprint (devices pin this): ${server.rootFingerprint}`,
  ];
  if (server.masterKey.source === "generated")
    lines.push(
      "",
      `WARNING: generated a new master key at ${server.masterKey.path}. It encrypts every CA key;`,
      "         back it up apart from the data, or set BULWARK_MASTER_KEY (32 bytes, hex) instead.",
    );
  if (server.firstRun) {
    lines.push(
      "",
      "First start: an administrator account was created. This password is shown only once",
      "and must be changed at first sign-in:",
      `  username: ${server.firstRun.adminUsername}`,
      `  password: ${server.firstRun.adminPassword}`,
    );
    if (server.firstRun.adminKeyFile)
      lines.push(`  admin API key written to ${server.firstRun.adminKeyFile} (mode 0600)`);
  }
  process.stderr.write(`${lines.join("\n")}\n\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // A server that failed to start (a port in use, an unreadable data directory) must not linger:
    // timers or connections opened before the failure would keep it alive without serving.
    process.stderr.write(`bulwark-server: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
