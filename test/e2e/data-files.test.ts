import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NODE, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, "0");

/** A pid that certainly belongs to no running process: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(NODE, ["-e", ""]);
  assert.equal(child.status, 0);
  return child.pid;
}

describe("files the server writes are owner-only (issue #13)", () => {
  let server: TestServer;
  const dir = tempDir("bulwark-files-");
  const spool = join(dir, "data", "spool");
  const host = hostname();
  const dead = deadPid();

  before(async () => {
    // What a killed upload of an earlier process on this host left behind, and another host's upload.
    mkdirSync(join(spool, `${host}-${dead}`, "bulwark-upload-x"), { recursive: true, mode: 0o700 });
    writeFileSync(join(spool, `${host}-${dead}`, "bulwark-upload-x", "upload.tar.gz"), "partial");
    mkdirSync(join(spool, "other-host.example-4242"), { recursive: true, mode: 0o700 });
    chmodSync(join(dir, "data"), 0o700);
    server = await startTestServer({ dir });
  });
  after(() => server.close());

  it("creates the database, its WAL and shared memory, and the key material 0600 in a 0700 directory", () => {
    const data = join(dir, "data");
    assert.equal(modeOf(data), "0700");
    for (const file of ["bulwark.db", "bulwark.db-wal", "bulwark.db-shm", "master.key"])
      assert.equal(modeOf(join(data, file)), "0600", file);
    assert.equal(modeOf(join(data, "keys")), "0700");
    const keys = readdirSync(join(data, "keys"));
    assert.ok(keys.length > 0, "custody keys were written");
    for (const k of keys) assert.equal(modeOf(join(data, "keys", k)), "0600", k);
    assert.equal(modeOf(join(dir, "admin.key")), "0600");
    // The root CA certificate is public (devices pin it); the directory around it is not.
    assert.equal(modeOf(join(data, "root-ca.pem")), "0644");
  });

  it("removes what dead processes of this host left in the spool at start, and leaves other hosts' alone", () => {
    assert.equal(existsSync(join(spool, `${host}-${dead}`)), false, "a killed upload's leftovers are gone");
    assert.equal(existsSync(join(spool, "other-host.example-4242")), true, "another host's folder stays");
    assert.equal(modeOf(join(spool, `${host}-${process.pid}`)), "0700", "this process's spool folder");
  });

  it("spools an upload under the data directory, not in the system temporary directory", async () => {
    const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith("bulwark-upload-")));
    const own = join(spool, `${host}-${process.pid}`);
    const req = request(new URL("/api/v1/vulnerabilities/osv", server.httpUrl), {
      method: "POST",
      ca: server.rootPem,
      headers: {
        authorization: `Bearer ${server.adminKey}`,
        "content-type": "application/gzip",
        "content-length": String(1024 * 1024),
      },
    });
    req.on("error", () => {});
    try {
      // Half a body, then nothing: the upload is under way while the folder is looked at.
      req.write(Buffer.alloc(512 * 1024));
      const file = await waitFor("the upload to be spooled", async () => {
        const folder = readdirSync(own)[0];
        const path = folder && join(own, folder, "upload.tar.gz");
        return path && existsSync(path) ? path : undefined;
      });
      assert.match(file, /\/bulwark-upload-[^/]+\/upload\.tar\.gz$/);
      assert.equal(modeOf(join(file, "..")), "0700");
      assert.equal(modeOf(file), "0600");
      const after = readdirSync(tmpdir()).filter((n) => n.startsWith("bulwark-upload-") && !before.has(n));
      assert.deepEqual(after, [], "nothing spooled in the system temporary directory");
    } finally {
      req.destroy();
    }
  });
});

describe("a data directory open to other users is refused unless allowed (issue #13)", () => {
  it("refuses 0755 naming the fix and the flag, and starts with --allow-open-data-dir", async () => {
    const dir = tempDir("bulwark-open-");
    mkdirSync(join(dir, "data"));
    chmodSync(join(dir, "data"), 0o755);
    await assert.rejects(startTestServer({ dir }), (e: Error) => {
      assert.match(e.message, /data directory .* is open to other users \(mode 0755\)/);
      assert.match(e.message, /chmod 700 .*--allow-open-data-dir/);
      return true;
    });
    assert.equal(existsSync(join(dir, "data", "bulwark.db")), false, "refused before anything was written");
    const allowed = await startTestServer({ dir, args: ["--allow-open-data-dir"] });
    try {
      assert.equal(modeOf(join(dir, "data", "bulwark.db")), "0600", "the files are private all the same");
      assert.equal(modeOf(join(dir, "data", "master.key")), "0600");
    } finally {
      await allowed.close();
    }
  });
});
