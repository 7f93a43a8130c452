import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import pino from "pino";
import { storeBackends } from "../../../test/store-fixtures.ts";
import { warnPlainHttpWebhooks } from "./plain-http-check.ts";
import { createWebhook } from "./webhooks.ts";

const LAB = { allowLocal: true, allowHttp: true };

/** A pino logger whose JSON lines are kept, as the server's would be written. */
function capturedLog() {
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
  const warnings = () =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
  return { log, warnings };
}

for (const backend of storeBackends)
  it(`on ${backend.name}: one warning names the stored plain-http webhooks unless plain http is allowed`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const key = randomBytes(32);
      const none = capturedLog();
      assert.equal(await warnPlainHttpWebhooks(t.store, false, none.log), 0);
      await createWebhook(t.store, key, { url: "https://hooks.example/secure" });
      assert.equal(await warnPlainHttpWebhooks(t.store, false, none.log), 0, "https only: nothing to say");
      assert.deepEqual(none.warnings(), []);

      const plain: string[] = [];
      for (let i = 0; i < 22; i++)
        plain.push(
          (await createWebhook(t.store, key, { url: `http://10.0.0.${i + 1}/hook` }, LAB)).webhook.id,
        );
      const strict = capturedLog();
      assert.equal(await warnPlainHttpWebhooks(t.store, false, strict.log), 22);
      const [warning, ...more] = strict.warnings();
      assert.deepEqual(more, [], "one line");
      assert.equal(warning!.count, 22);
      const ids = warning!.webhookIds as string[];
      assert.equal(ids.length, 20, "at most 20 ids");
      for (const id of ids) assert.ok(plain.includes(id));
      assert.match(
        String(warning!.msg),
        /22 stored webhook\(s\) use plain http:\/\/ and will not be delivered/,
      );

      const lab = capturedLog();
      assert.equal(await warnPlainHttpWebhooks(t.store, true, lab.log), 0);
      assert.deepEqual(lab.warnings(), [], "--webhook-allow-http: they are delivered, no warning");
    } finally {
      await t.close();
    }
  });
