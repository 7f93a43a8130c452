import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fileKek } from "./kek.ts";
import { openStore } from "./store.ts";
import type { StoreTamperEvent } from "./tamper.ts";

const WRITER = fileURLToPath(new URL("../../test/store-race-writer.ts", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "bw-store-race-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("store: two processes opening a new store at once (the agent and `report-event`)", () => {
  it("share one keyring: the one that loses the race adopts the winner's, nothing becomes unreadable", async () => {
    const dir = join(root, "store");
    const kek = join(root, "kek");
    fileKek(kek); // one KEK file for both, as on a device
    // A stops just before its keyring becomes visible...
    const a = spawn(process.execPath, [WRITER, dir, kek, "a", "pause"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    a.stdout.setEncoding("utf8");
    a.stdout.on("data", (chunk: string) => {
      out += chunk;
    });
    while (!out.includes("paused")) await once(a.stdout, "data");
    // ...B creates the store and writes its record, then A goes on.
    assert.equal(execFileSync(process.execPath, [WRITER, dir, kek, "b"], { encoding: "utf8" }), "done\n");
    a.stdin.end("\n");
    const [code] = await once(a, "exit");
    assert.equal(code, 0);
    assert.match(out, /done/);

    const events: StoreTamperEvent[] = [];
    const store = openStore({ dir, kek: fileKek(kek), onSecurityEvent: (e) => events.push(e) });
    assert.equal(store.get("state", "b")?.toString(), "b");
    assert.equal(store.get("state", "a")?.toString(), "a");
    assert.deepEqual(events, []);
  });
});
