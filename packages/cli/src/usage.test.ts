import assert from "node:assert/strict";
import { it } from "node:test";
import { COMMANDS } from "./commands.ts";
import { listedCommands, USAGE, usageOf } from "./usage.ts";

it("--help lists every command, and lists no command that does not exist", () => {
  const listed = new Set(listedCommands());
  const real = new Set([...Object.keys(COMMANDS), "scan"]);
  assert.deepEqual(
    [...real].filter((name) => !listed.has(name)),
    [],
    "commands missing from --help",
  );
  assert.deepEqual(
    [...listed].filter((name) => !real.has(name)),
    [],
    "--help lists commands that do not exist",
  );
});

it("every list command takes --json, and --help says so", () => {
  const lists = [...Object.keys(COMMANDS)].filter((name) => name.endsWith(" list"));
  assert.ok(lists.length >= 9, lists.join(", "));
  for (const name of lists) assert.match(usageOf(name), /\[--json\]/, name);
});

it("a command's usage keeps its continuation lines", () => {
  assert.equal(
    usageOf("policy set"),
    "Usage: bulwark policy set GROUP --key-algorithms A,B --validity-days N [--renewal-window-days N] [--methods M,N]\n  [--issuing-ca CA]                    (the group's provisioning policy)\n",
  );
  assert.match(USAGE, /^Usage: bulwark <command>/);
});
