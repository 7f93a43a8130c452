import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DownloadError, downloadWithResume } from "./downloader.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-download-"));
const body = randomBytes(200 * 1024);
const hashes = {
  sha256: createHash("sha256").update(body).digest("hex"),
  sha512: createHash("sha512").update(body).digest("hex"),
};

/** What the test server does with each request, in order; records the Range headers it saw. */
type Behaviour = "drop-after-50k" | "ok" | "tampered" | "endless";
let plan: Behaviour[] = [];
const ranges: (string | undefined)[] = [];

function handle(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) {
  ranges.push(req.headers.range);
  const behaviour = plan.shift() ?? "ok";
  const from = req.headers.range ? Number(/bytes=(\d+)-/.exec(req.headers.range)![1]) : 0;
  const status = from > 0 ? 206 : 200;
  if (behaviour === "drop-after-50k") {
    res.writeHead(status, { "content-length": body.length - from });
    res.write(body.subarray(from, from + 50 * 1024), () => res.destroy());
    return;
  }
  if (behaviour === "endless") {
    res.writeHead(200);
    let open = true;
    res.on("close", () => {
      open = false;
    });
    const pump = () => {
      if (open && res.write(randomBytes(16 * 1024))) setImmediate(pump);
      else if (open) res.once("drain", pump);
    };
    pump();
    return;
  }
  // Flip every bit of one byte: a fixed value would equal the random byte 1 time in 256.
  const payload = behaviour === "tampered" ? Buffer.from(body) : body;
  if (behaviour === "tampered") payload[1000] = payload[1000]! ^ 0xff;
  res.writeHead(status, { "content-length": payload.length - from });
  res.end(payload.subarray(from));
}

describe("downloads resume with HTTP Range and verify while streaming", () => {
  let server: Server;
  let url: string;
  let tls: { ca: string; cert: string; key: string };

  before(async () => {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"],
        ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
      ],
      { stdio: "ignore" },
    );
    const keyPem = readFileSync(key, "utf8");
    const certPem = readFileSync(cert, "utf8");
    tls = { ca: certPem, cert: certPem, key: keyPem };
    server = createServer({ key: keyPem, cert: certPem, minVersion: "TLSv1.3" }, handle);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/image.bin`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The first request asks for everything, the second only for what the first did not deliver. */
  const assertResumed = () => {
    assert.equal(ranges.length, 2);
    assert.equal(ranges[0], undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? "")?.[1]);
    assert.ok(from > 0 && from <= 50 * 1024, `resumed from ${ranges[1]}`);
  };

  const spec = (name: string, extra = {}) => ({
    url,
    dest: join(dir, name),
    length: body.length,
    hashes,
    tls,
    backoffMs: () => 0,
    ...extra,
  });

  it("a dropped connection resumes from where it stopped, asking only for the rest", async () => {
    plan = ["drop-after-50k", "ok"];
    ranges.length = 0;
    const file = await downloadWithResume(spec("a.bin"));
    assert.deepEqual(readFileSync(file), body);
    assertResumed();
  });

  it("bytes kept across a restart (a new process) are not fetched again", async () => {
    plan = ["drop-after-50k"];
    ranges.length = 0;
    await assert.rejects(downloadWithResume(spec("b.bin", { retries: 0 })), DownloadError);
    assert.ok(existsSync(join(dir, "b.bin.part")), "the partial download is kept");
    plan = ["ok"];
    const file = await downloadWithResume(spec("b.bin"));
    assert.deepEqual(readFileSync(file), body);
    assertResumed();
  });

  it("a digest mismatch is refused and nothing is kept", async () => {
    plan = ["tampered"];
    await assert.rejects(downloadWithResume(spec("c.bin")), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.match(error.message, /sha256 digest does not match/);
      return true;
    });
    assert.equal(existsSync(join(dir, "c.bin")) || existsSync(join(dir, "c.bin.part")), false);
  });

  it("endless data stops at the listed length (TUF endless-data attack)", async () => {
    plan = ["endless"];
    await assert.rejects(downloadWithResume(spec("d.bin")), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.match(error.message, /more than the \d+ bytes listed/);
      return true;
    });
    assert.equal(existsSync(join(dir, "d.bin.part")), false);
  });
});
