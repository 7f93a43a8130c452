import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import pino from "pino";
import { waitFor } from "../../../../../test/helpers.ts";
import { tempStore } from "../../../test/store-fixtures.ts";
import { WebhookDispatcher } from "./dispatcher.ts";

it("a store that fails under the dispatcher is logged, never an unhandled rejection (which ends the process)", async (t) => {
  const { store, close } = await tempStore();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  t.after(() => process.off("unhandledRejection", onUnhandled));
  const dispatcher = new WebhookDispatcher({ store, masterKey: randomBytes(32), log });
  t.after(() => dispatcher.stop());
  // The database goes away (closed here; a lost PostgreSQL fails the same way, query by query).
  await close();
  dispatcher.wake();
  // The pass fails (logged since ever), then the look-up of the next due delivery after it.
  await waitFor("both failures handled", async () => {
    if (unhandled.length > 0) throw Object.assign(new Error("unhandled rejection"), { cause: unhandled[0] });
    return lines.some((l) => l.msg === "webhook schedule failed; retrying");
  });
  assert.ok(lines.some((l) => l.msg === "webhook dispatch failed"));
  assert.deepEqual(unhandled, []);
});
