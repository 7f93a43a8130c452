import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID, X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { startTestServer, type TestServer } from "../../../../test/helpers.ts";
import {
  deviceGet,
  productDevice,
  productWithRelease,
  uploadArtifact,
} from "../../../../test/update-helpers.ts";

const LIMIT = 256 * 1024;

describe("update artifacts: streamed upload, content-addressed storage, device download with Range", () => {
  let server: TestServer;
  let productId: string;
  let releaseId: string;
  let device: EnrolledDevice;
  const image = randomBytes(200 * 1024);
  const sha256 = createHash("sha256").update(image).digest("hex");
  const sha512 = createHash("sha512").update(image).digest("hex");

  before(async () => {
    server = await startTestServer({ args: ["--max-artifact-bytes", String(LIMIT)] });
    ({ productId, releaseId } = await productWithRelease(server, "Gateway G1"));
    device = await productDevice(server, productId);
  });
  after(async () => {
    await server.close();
  });

  it("stores an upload under its SHA-256 with both digests computed while streaming", async () => {
    const res = await uploadArtifact(server, releaseId, "gateway.img", image);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.length, image.length);
    assert.equal(res.body.sha256, sha256);
    assert.equal(res.body.sha512, sha512);
    const stored = join(server.dir, "data", "artifacts", sha256.slice(0, 2), sha256);
    assert.deepEqual(readFileSync(stored), image);
    const list = await server.api<{ items: { name: string }[] }>(
      "GET",
      `/api/v1/releases/${releaseId}/artifacts`,
    );
    assert.deepEqual(
      list.body.items.map((a) => a.name),
      ["gateway.img"],
    );
    const again = await uploadArtifact(server, releaseId, "gateway.img", image);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, "BW_ERR_CONFLICT");
  });

  it("refuses an upload past the size limit and keeps nothing of it", async () => {
    const big = randomBytes(LIMIT + 1);
    const res = await uploadArtifact(server, releaseId, "too-big.img", big);
    assert.equal(res.status, 413);
    assert.equal(res.body.code, "BW_ERR_PAYLOAD_TOO_LARGE");
    const bigHash = createHash("sha256").update(big).digest("hex");
    const dir = join(server.dir, "data", "artifacts");
    assert.ok(
      !readdirSync(dir).includes(bigHash.slice(0, 2)) ||
        !readdirSync(join(dir, bigHash.slice(0, 2))).includes(bigHash),
    );
    assert.deepEqual(readdirSync(join(dir, "tmp")), [], "no temporary file is left");
    // Positive control: a file exactly at the limit is accepted.
    const exact = await uploadArtifact(server, releaseId, "exact.img", randomBytes(LIMIT));
    assert.equal(exact.status, 201);
  });

  it("serves the artifact to the product's device over mutual TLS, whole and by Range", async () => {
    const path = `/tuf/${productId}/targets/firmware/1.0.0/${sha256}.gateway.img`;
    const whole = await deviceGet(server, device, path);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers["accept-ranges"], "bytes");
    assert.deepEqual(whole.body, image);
    // An interrupted download resumes where it stopped (RFC 9110 §14.2), guarded by If-Range.
    const etag = String(whole.headers.etag);
    const rest = await deviceGet(server, device, path, { range: "bytes=150000-", "if-range": etag });
    assert.equal(rest.status, 206);
    assert.equal(rest.headers["content-range"], `bytes 150000-${image.length - 1}/${image.length}`);
    assert.deepEqual(rest.body, image.subarray(150000));
    const bySha512 = await deviceGet(
      server,
      device,
      `/tuf/${productId}/targets/firmware/1.0.0/${sha512}.gateway.img`,
      {
        range: "bytes=-10",
      },
    );
    assert.equal(bySha512.status, 206);
    assert.deepEqual(bySha512.body, image.subarray(-10));
    const changed = await deviceGet(server, device, path, { range: "bytes=10-", "if-range": '"other"' });
    assert.equal(changed.status, 200, "a stale If-Range gets the whole file");
    const beyond = await deviceGet(server, device, path, { range: `bytes=${image.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers["content-range"], `bytes */${image.length}`);
  });

  it("refuses callers that are not enrolled, enabled devices of the product", async () => {
    const path = `/tuf/${productId}/targets/firmware/1.0.0/${sha256}.gateway.img`;
    const anonymous = await deviceGet(server, undefined, path);
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.body.toString()).code, "BW_ERR_CLIENT_CERTIFICATE_REQUIRED");
    const other = await productWithRelease(server, "Camera C1");
    const stranger = await productDevice(server, other.productId);
    const wrongProduct = await deviceGet(server, stranger, path);
    assert.equal(wrongProduct.status, 403);
    assert.equal(JSON.parse(wrongProduct.body.toString()).code, "BW_ERR_FORBIDDEN");
    const own = await deviceGet(server, device, path);
    assert.equal(own.status, 200, "positive control: the product's own device");
    const disabled = await server.api("POST", `/api/v1/devices/${device.deviceId}/disable`, {
      reason: "test",
    });
    assert.equal(disabled.status, 200);
    const refused = await deviceGet(server, device, path);
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.body.toString()).code, "BW_ERR_DEVICE_NOT_ALLOWED");
    await server.api("POST", `/api/v1/devices/${device.deviceId}/enable`, { reason: "test" });
    assert.equal((await deviceGet(server, device, path)).status, 200);
    // A product that does not exist: no device is one of its devices.
    const noProduct = await deviceGet(server, device, path.replace(productId, randomUUID()));
    assert.equal(JSON.parse(noProduct.body.toString()).code, "BW_ERR_FORBIDDEN");
    // RFC 5280 §5.3.1: a revoked certificate no longer downloads, although TLS still accepts it.
    const revokedDevice = await productDevice(server, productId);
    assert.equal((await deviceGet(server, revokedDevice, path)).status, 200, "positive control");
    const serial = new X509Certificate(revokedDevice.certPem).serialNumber.toLowerCase();
    const revoke = await server.api("POST", `/api/v1/certificates/${serial}/revoke`, {
      reason: "superseded",
    });
    assert.equal(revoke.status, 200);
    const revoked = await deviceGet(server, revokedDevice, path);
    assert.equal(JSON.parse(revoked.body.toString()).code, "BW_ERR_CERTIFICATE_INVALID");
  });

  it("records the update fields of a release: component, advisory, hardware", async () => {
    const res = await server.api<{ component: string; advisory: { cves: string[] }; hardware: string[] }>(
      "PUT",
      `/api/v1/releases/${releaseId}/update`,
      {
        advisory: {
          summary: "Fixes a heap overflow",
          severity: "high",
          cves: ["CVE-2026-12345"],
          action: "none",
        },
        hardware: ["rev-a", "rev-b"],
      },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.component, "firmware");
    assert.deepEqual(res.body.advisory.cves, ["CVE-2026-12345"]);
    const bad = await server.api<{ code: string }>("PUT", `/api/v1/releases/${releaseId}/update`, {
      advisory: { summary: "x", severity: "high", cves: ["not-a-cve"], action: "none" },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "BW_ERR_VALIDATION");
    const read = await server.api<{ hardware: string[]; artifacts: unknown[] }>(
      "GET",
      `/api/v1/releases/${releaseId}/update`,
    );
    assert.deepEqual(read.body.hardware, ["rev-a", "rev-b"]);
    assert.equal(read.body.artifacts.length, 2);
  });
});
