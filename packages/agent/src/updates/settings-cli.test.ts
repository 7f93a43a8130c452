import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runAgentMain } from "../../../../test/agent-cli.ts";
import { tempDir } from "../../../../test/helpers.ts";
import { openAgentStore } from "../device-store.ts";
import { createLog } from "../log.ts";
import { readSettings, SETTING_KEYS, SettingsError, settingsFile } from "./settings.ts";
import { settingsCommand } from "./settings-cli.ts";
import { WRITE_STEPS } from "./settings-file.ts";
import { UpdateAgent } from "./update-agent.ts";

const NODE = process.execPath;
const MODULE = fileURLToPath(new URL("./settings-cli.ts", import.meta.url));

const agent = runAgentMain;

const settings = (dir: string, ...args: string[]) =>
  agent(["updates", "settings", ...args, "--state-dir", dir]);

/** The file's bytes and inode: a rename (any write) gives it a new inode. */
const snapshot = (dir: string) => {
  const file = settingsFile(dir);
  return { bytes: readFileSync(file, "utf8"), ino: statSync(file).ino, mode: statSync(file).mode & 0o777 };
};

/** A child process running the settings command, stopped (SIGKILL) by itself before `killAt`. */
function child(dir: string, args: string[], killAt?: string): ChildProcess {
  const code = `
    import { settingsCommand } from ${JSON.stringify(MODULE)};
    const step = (s) => { if (s === ${JSON.stringify(killAt ?? "")}) process.kill(process.pid, "SIGKILL"); };
    const args = ${JSON.stringify(args)};
    const rounds = Number(process.env.ROUNDS ?? 1);
    for (let i = 0; i < rounds; i++) {
      const a = args.map((x) => x.replaceAll("{i}", String(i)));
      const code = settingsCommand(${JSON.stringify(dir)}, a, { stdout() {}, stderr: (l) => console.error(l) }, { step, lockTimeoutMs: 60000 });
      if (code !== 0) process.exit(code);
    }`;
  return spawn(NODE, ["--input-type=module", "-e", code], { stdio: ["ignore", "ignore", "pipe"] });
}

const exited = (p: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    let stderr = "";
    p.stderr?.on("data", (d) => {
      stderr += d;
    });
    p.on("exit", (code, signal) => resolve({ code, signal, stderr }));
  });

describe("bulwark-agent updates settings: the integrator's updates.json", () => {
  it("bad input is one line on stderr with exit 2 and leaves the file as it was", async () => {
    const dir = tempDir("bulwark-settings-cli-");
    assert.equal((await settings(dir, "set", "hardwareRevision", "rev-a")).code, 0);
    chmodSync(settingsFile(dir), 0o640);
    const before = snapshot(dir);
    const cases: [string[], RegExp][] = [
      [[], /a subcommand is needed: bulwark-agent updates settings show \| set KEY VALUE \| unset KEY/],
      [["frob"], /unknown settings subcommand "frob"/],
      [["show", "x"], /settings show takes no argument, got 1 argument/],
      [["set", "metered"], /settings set takes KEY VALUE, got 1 argument/],
      [["set", "color", "red"], /unknown setting "color" \(known: slotsDir, configDir, /],
      [["unset", "color"], /unknown setting "color"/],
      [["set", "metered", "yes"], /metered must be true or false; got "yes"$/],
      [["set", "slotsDir", "relative/slots"], /slotsDir must be an absolute path .*; got "relative\/slots"$/],
      [["set", "installHook", "/usr/bin/hook"], /installHook takes a JSON argv array, e\.g\. /],
      [["set", "installHook", '"/usr/bin/hook"'], /installHook must be an argv array of at most 64 strings/],
      [
        ["set", "notifyHook", '["", "x"]'],
        /notifyHook must be an argv array .* the program first and not empty/,
      ],
      [["set", "healthCheck", '["/bin/true", 3]'], /healthCheck must be an argv array/],
      [
        ["set", "checkIntervalMs", "99"],
        /checkIntervalMs must be a whole number of milliseconds from 100 to 2147483647; got "99"$/,
      ],
      [["set", "checkIntervalMs", "2147483648"], /checkIntervalMs must be .*; got "2147483648"$/],
      [["set", "checkIntervalMs", "1e4"], /checkIntervalMs must be .*; got "1e4"$/],
      [["set", "downloadRetries", "101"], /downloadRetries must be a whole number from 0 to 100; got "101"$/],
      [["set", "downloadRetries", "-1"], /unknown option -1$/],
      [
        ["set", "hardwareRevision", "rev\tb"],
        /hardwareRevision must be 1-128 characters without control characters/,
      ],
      [["set", "hardwareRevision", ""], /hardwareRevision must be 1-128 characters/],
    ];
    for (const [args, pattern] of cases) {
      const r = await settings(dir, ...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), /^bulwark-agent updates(?: settings)?: /);
      assert.match(r.stderr.trimEnd(), pattern, args.join(" "));
      assert.deepEqual(snapshot(dir), before, `${args.join(" ")} left the file as it was`);
    }
    assert.deepEqual(readdirSync(dir), ["updates.json"], "no temporary or lock file left");
    const missing = await settings(join(dir, "nowhere"), "show");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /the state directory .*nowhere does not exist/);

    const positive = await settings(dir, "set", "metered", "true");
    assert.equal(positive.code, 0, "positive control: the same command line with a valid value writes");
    assert.notEqual(snapshot(dir).ino, before.ino);
    assert.equal(snapshot(dir).mode, 0o640, "the file's permissions are kept");
  });

  it("show marks defaults; set and unset change what the agent reads", async () => {
    const dir = tempDir("bulwark-settings-cli-");
    const shown = await settings(dir, "show");
    assert.equal(shown.code, 0);
    const lines = shown.stdout.trimEnd().split("\n");
    assert.equal(lines.length, SETTING_KEYS.length);
    for (const line of lines) assert.match(line, /\t\(default\)$/);
    assert.ok(lines.includes(`slotsDir\t${JSON.stringify(join(dir, "updates", "slots"))}\t(default)`));
    assert.ok(lines.includes("hardwareRevision\tnone\t(default)"));

    const hook = ["/bin/sh", "-c", 'echo "$BULWARK_UPDATE_EVENT" --flag'];
    const set: [string, string][] = [
      ["slotsDir", "/var/lib/slots"],
      ["configDir", "/etc/device"],
      ["installHook", JSON.stringify(hook)],
      ["healthCheck", '["/usr/bin/health"]'],
      ["notifyHook", "[]"],
      ["metered", "true"],
      ["hardwareRevision", "rev-b"],
      ["checkIntervalMs", "500"],
      ["downloadRetries", "0"],
    ];
    for (const [key, value] of set) {
      const r = await settings(dir, "set", key, value);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${key} set to `));
    }
    assert.equal(statSync(settingsFile(dir)).mode & 0o777, 0o600, "a new file is 0600");
    assert.deepEqual(readSettings(dir), {
      slotsDir: "/var/lib/slots",
      configDir: "/etc/device",
      installHook: hook,
      healthCheck: ["/usr/bin/health"],
      notifyHook: [],
      metered: true,
      hardwareRevision: "rev-b",
      checkIntervalMs: 500,
      downloadRetries: 0,
    });
    const after = (await settings(dir, "show")).stdout;
    assert.doesNotMatch(after, /\(default\)/);
    assert.match(after, /^metered\ttrue$/m);

    const unset = await settings(dir, "unset", "checkIntervalMs");
    assert.equal(unset.stdout, "checkIntervalMs unset (default: 60000)\n");
    assert.equal(readSettings(dir).checkIntervalMs, 60_000);
    assert.match((await settings(dir, "show")).stdout, /^checkIntervalMs\t60000\t\(default\)$/m);
    assert.equal((await settings(dir, "unset", "hardwareRevision")).code, 0);
    assert.equal(readSettings(dir).hardwareRevision, undefined);
    assert.equal(readSettings(dir).metered, true, "the other keys stay");
  });

  it("a file the agent would refuse: show and set name it (exit 2), unset repairs it; unknown keys are kept", async () => {
    const dir = tempDir("bulwark-settings-cli-");
    writeFileSync(settingsFile(dir), JSON.stringify({ checkIntervalMs: "500", fromNewerAgent: 1 }), {
      mode: 0o600,
    });
    assert.throws(() => readSettings(dir), SettingsError, "the agent refuses it too");
    const before = snapshot(dir);
    const shown = await settings(dir, "show");
    assert.equal(shown.code, 2);
    assert.match(shown.stderr, /updates\.json: checkIntervalMs must be a whole number of milliseconds/);
    const set = await settings(dir, "set", "metered", "true");
    assert.equal(set.code, 2);
    assert.match(set.stderr, /checkIntervalMs must be .* \(unset it first\)\n$/);
    assert.deepEqual(snapshot(dir), before);

    assert.equal((await settings(dir, "unset", "checkIntervalMs")).code, 0);
    assert.equal(readSettings(dir).checkIntervalMs, 60_000);
    assert.match(
      (await settings(dir, "show")).stdout,
      /^fromNewerAgent\t1\t\(unknown to this agent: ignored\)$/m,
    );
    const removed = await settings(dir, "unset", "fromNewerAgent");
    assert.equal(removed.stdout, "fromNewerAgent removed\n");
    assert.deepEqual(JSON.parse(readFileSync(settingsFile(dir), "utf8")), {});

    writeFileSync(settingsFile(dir), "{ not json", { mode: 0o600 });
    const broken = await settings(dir, "set", "metered", "true");
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /updates\.json is not valid JSON/);
    assert.equal(readFileSync(settingsFile(dir), "utf8"), "{ not json");
  });

  it("a command killed at each write step leaves the old file or the new one; the next one takes over", async () => {
    for (const at of WRITE_STEPS) {
      const dir = tempDir("bulwark-settings-crash-");
      assert.equal((await settings(dir, "set", "downloadRetries", "7")).code, 0);
      const killed = await exited(child(dir, ["set", "hardwareRevision", "rev-c"], at));
      assert.equal(killed.signal, "SIGKILL", `${at}: ${killed.stderr}`);
      const seen = readSettings(dir); // a valid file, whatever the step
      assert.equal(seen.downloadRetries, 7, at);
      // Up to the rename the old file is there; from it on, the new one.
      const renamed = WRITE_STEPS.indexOf(at) > WRITE_STEPS.indexOf("rename");
      assert.equal(seen.hardwareRevision, renamed ? "rev-c" : undefined, at);
      const next = await settings(dir, "set", "metered", "true");
      assert.equal(next.code, 0, `${at}: the stale lock is taken over: ${next.stderr}`);
      assert.equal(readSettings(dir).metered, true);
      assert.deepEqual(readdirSync(dir), ["updates.json"], `${at}: the killed command's files are swept`);
    }
  });

  it("a live command's lock is waited for, then refused (exit 1); once it ends the write goes through", async () => {
    const dir = tempDir("bulwark-settings-lock-");
    const holder = spawn(NODE, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      writeFileSync(`${settingsFile(dir)}.lock`, `${holder.pid} 0123456789abcdef\n`);
      const lines: string[] = [];
      const out = { stdout: () => undefined, stderr: (l: string) => lines.push(l) };
      const code = settingsCommand(dir, ["set", "metered", "true"], out, { lockTimeoutMs: 200 });
      assert.equal(code, 1);
      assert.match(lines.join("\n"), /updates\.json\.lock is held by process \d+ .*; try again$/);
      assert.deepEqual(readdirSync(dir), ["updates.json.lock"], "nothing written");
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
    }
    const positive = settingsCommand(dir, ["set", "metered", "true"], { stdout() {}, stderr() {} });
    assert.equal(positive, 0, "the holder gone, its lock is stale and taken over");
    assert.equal(readSettings(dir).metered, true);
  });

  it("commands run at once lose no write (each process sets its own key 40 times)", async () => {
    const dir = tempDir("bulwark-settings-race-");
    const writers: [string, (i: string) => string][] = [
      ["slotsDir", (i) => `/slots/${i}`],
      ["configDir", (i) => `/config/${i}`],
      ["hardwareRevision", (i) => `rev-${i}`],
      ["installHook", (i) => JSON.stringify(["/hook", i])],
      ["healthCheck", (i) => JSON.stringify(["/health", i])],
      ["notifyHook", (i) => JSON.stringify(["/notify", i])],
    ];
    const rounds = 40;
    const children = writers.map(([key, value]) => {
      process.env.ROUNDS = String(rounds);
      const p = child(dir, ["set", key, value("{i}")]);
      delete process.env.ROUNDS;
      return exited(p);
    });
    for (const r of await Promise.all(children)) assert.equal(r.code, 0, r.stderr);
    const last = String(rounds - 1);
    const final = readSettings(dir);
    for (const [key, value] of writers) {
      const expected = key.endsWith("Hook") || key === "healthCheck" ? JSON.parse(value(last)) : value(last);
      assert.deepEqual(final[key as keyof typeof final], expected, `${key}: its last write is there`);
    }
    assert.deepEqual(readdirSync(dir), ["updates.json"]);
  });

  it("the agent reads what the command wrote; a file made invalid while it runs keeps the last hardware revision", async () => {
    const dir = join(tempDir("bulwark-settings-agent-"), "state");
    const lines: { level: string; msg: string; reason?: string }[] = [];
    const log = createLog("debug", (l) => lines.push(JSON.parse(l)));
    const store = openAgentStore(dir, { tpm: null });
    const options = {
      stateDir: dir,
      store,
      serverUrl: "https://127.0.0.1:9",
      tls: () => ({ ca: "", cert: "", key: "" }),
      report: () => {},
      log,
    };
    assert.equal((await settings(dir, "set", "hardwareRevision", "rev-a")).code, 0);
    const running = new UpdateAgent(options);
    assert.equal(running.metadata().hardwareRevision, "rev-a");
    assert.equal((await settings(dir, "set", "hardwareRevision", "rev-b")).code, 0);
    assert.equal(running.metadata().hardwareRevision, "rev-b", "read again without a restart");

    writeFileSync(settingsFile(dir), JSON.stringify({ hardwareRevision: "rev-c", checkIntervalMs: "soon" }));
    assert.equal(running.metadata().hardwareRevision, "rev-a", "the last file read at start or at a job");
    const refused = lines.find((l) => l.msg === "update settings refused");
    assert.match(refused?.reason ?? "", /checkIntervalMs must be a whole number of milliseconds/);
    assert.throws(() => new UpdateAgent(options), SettingsError, "at start the agent refuses it");
  });
});
