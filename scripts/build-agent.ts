/**
 * `npm run build:agent`: the device agent as one file and as a single executable (Linux x64).
 *   1. esbuild bundles packages/agent/src/main.ts and everything it imports (the SDK modules it
 *      uses, mqtt.js) into dist/agent/bulwark-agent.mjs: no TypeScript stripping at run time,
 *      no node_modules on the device.
 *   2. Node's single executable application support (`node --build-sea`) injects that bundle
 *      into a copy of the pinned Node binary: dist/agent/bulwark-agent.
 * `--bundle-only` stops after step 1.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const ROOT = new URL("..", import.meta.url).pathname;
export const AGENT_DIST = join(ROOT, "dist/agent");
export const AGENT_BUNDLE = join(AGENT_DIST, "bulwark-agent.mjs");
export const AGENT_EXECUTABLE = join(AGENT_DIST, "bulwark-agent");

export async function bundleAgent(): Promise<string> {
  mkdirSync(AGENT_DIST, { recursive: true });
  await build({
    entryPoints: [join(ROOT, "packages/agent/src/main.ts")],
    outfile: AGENT_BUNDLE,
    bundle: true,
    platform: "node",
    target: "node26",
    format: "esm",
    minify: true,
    sourcemap: false,
    legalComments: "eof",
    // mqtt.js reaches for these only in a browser or for WebSocket compression it does not use here.
    external: ["bufferutil", "utf-8-validate"],
    // CommonJS dependencies (mqtt.js) call require(): give the ES module one.
    banner: {
      js: 'import { createRequire as __bwRequire } from "node:module"; const require = __bwRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
  return AGENT_BUNDLE;
}

export function buildExecutable(): string {
  const config = join(AGENT_DIST, "sea-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      main: AGENT_BUNDLE,
      mainFormat: "module",
      output: AGENT_EXECUTABLE,
      executable: process.execPath, // the pinned Node (node_modules/.bin/node)
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      // An idle agent needs little: a 1 MiB young generation and V8's lite mode (no optimising
      // compilers: the agent's JS is small and rarely hot; its crypto runs in OpenSSL) cut its RSS
      // (bench/agent.ts measures it).
      execArgv: ["--max-semi-space-size=1", "--lite-mode"],
    }),
  );
  execFileSync(process.execPath, ["--build-sea", config], { stdio: "inherit" });
  chmodSync(AGENT_EXECUTABLE, 0o755);
  return AGENT_EXECUTABLE;
}

if (import.meta.main) {
  const bundle = await bundleAgent();
  process.stderr.write(`bundle: ${bundle} (${(statSync(bundle).size / 1024).toFixed(0)} KiB)\n`);
  if (!process.argv.includes("--bundle-only")) {
    const exe = buildExecutable();
    process.stderr.write(`executable: ${exe} (${(statSync(exe).size / 2 ** 20).toFixed(1)} MiB)\n`);
  }
}
