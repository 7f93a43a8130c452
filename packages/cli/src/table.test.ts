import assert from "node:assert/strict";
import { it } from "node:test";
import { deviceTable } from "./fleet-commands.ts";
import { table } from "./table.ts";

it("a table aligns columns to the widest cell, underlines the header and trims line ends", () => {
  assert.equal(
    table(
      ["NAME", "ID"],
      [
        ["default", "1"],
        ["a", "12345678"],
      ],
    ),
    ["NAME     ID", "-------  --------", "default  1", "a        12345678"].join("\n"),
  );
  assert.equal(table(["ONLY"], []), "ONLY\n----");
});

it("the device table shows presence, metadata and the applied policy, with - for what is missing", () => {
  const text = deviceTable([
    {
      id: "0193aaaa-0000-7000-8000-000000000001",
      groupName: "default",
      status: "active",
      online: true,
      lastSeenAt: null,
      serial: null,
      config: { policy: "baseline", version: 3 },
      metadata: { model: "cam-1", agentVersion: "0.1.0" },
    },
  ]);
  const [header, , row] = text.split("\n");
  assert.match(
    header!,
    /^DEVICE\s+SERIAL\s+GROUP\s+STATUS\s+PRESENCE\s+MODEL\s+OS\s+AGENT\s+MAC\s+CONFIG\s+LAST SEEN$/,
  );
  assert.deepEqual(row!.split(/\s{2,}/), [
    "0193aaaa-0000-7000-8000-000000000001",
    "-",
    "default",
    "active",
    "online",
    "cam-1",
    "-",
    "0.1.0",
    "-",
    "baseline@3",
    "-",
  ]);
});
