import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { startTestServer } from "../helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-plain-http-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const PLAIN_HTTP_WARNING = /stored webhook\(s\) use plain http:\/\/ and will not be delivered/;

/** The warn lines of one start of the server over `dir`, with these flags. */
async function startWarnings(args: string[]): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const server = await startTestServer({ dir, args, logLines: lines });
  await server.stop();
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
}

it("a start without --webhook-allow-http warns once about the stored plain-http webhooks; with it, not", async () => {
  const lab = ["--webhook-allow-local", "--webhook-allow-http"];
  const server = await startTestServer({ dir, args: lab });
  let id: string;
  try {
    const created = await server.api<{ id: string }>("POST", "/api/v1/webhooks", {
      url: "http://127.0.0.1:9/bulwark",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = created.body.id;
  } finally {
    await server.stop();
  }

  const strict = (await startWarnings([])).filter((l) => PLAIN_HTTP_WARNING.test(String(l.msg)));
  assert.equal(strict.length, 1, "one line");
  assert.equal(strict[0]!.count, 1);
  assert.deepEqual(strict[0]!.webhookIds, [id]);

  const allowed = (await startWarnings(lab)).filter((l) => PLAIN_HTTP_WARNING.test(String(l.msg)));
  assert.deepEqual(allowed, []);
});
