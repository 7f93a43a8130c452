import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, it } from "node:test";
import { storeBackends } from "../../../test/store-fixtures.ts";
import { FileKeyCustody } from "../../custody/file-key-custody.ts";
import { insertDevice, newDeviceId, recordMetadata } from "../../fleet/devices.ts";
import { createGroup } from "../../fleet/groups.ts";
import { createProduct } from "../../products/products.ts";
import { linkGroup } from "../support.ts";
import { openEvent } from "./events.ts";
import {
  acknowledge,
  createNotice,
  deliveriesOf,
  markPublished,
  noticeById,
  openDeliveries,
} from "./notices.ts";
import { ensureAwarenessKey } from "./watcher.ts";

/** CRA Art. 14(8) notices as stored: the same answers from SQLite and PostgreSQL. */
for (const backend of storeBackends)
  describe(`user notices on ${backend.name}`, () => {
    it("one delivery per device on an affected version; pending → sent → acknowledged, once", async (t) => {
      const s = await backend.open(t);
      if (!s) return;
      try {
        const custody = new FileKeyCustody({ dir: join(s.dir, "keys"), masterKey: randomBytes(32) });
        const { signer } = await ensureAwarenessKey(s.store, custody);
        const product = await createProduct(s.store, "hub");
        const group = await createGroup(s.store, "hubs");
        await linkGroup(s.store, product.id, group.id);
        const [a, b, other, silent] = [newDeviceId(), newDeviceId(), newDeviceId(), newDeviceId()];
        for (const [id, firmwareVersion] of [
          [a, "1.0.0"],
          [b, "1.0.1"],
          [other, "2.0.0"],
          [silent, undefined],
        ] as const) {
          await insertDevice(s.store, { id, groupId: group.id, enrolledVia: "token" });
          if (firmwareVersion) await recordMetadata(s.store, id, { firmwareVersion }, 0);
        }
        const open = (status: "candidate" | "confirmed") =>
          s.store.transaction((tx) =>
            openEvent(tx, signer, {
              productId: product.id,
              kind: "incident",
              vulnerability: null,
              title: "Hub incident",
              summary: "Tab\tand\r\nbreaks are flattened", // tab and CR become spaces; line breaks stay
              trigger: "operator",
              status,
              awareAt: Date.now(),
            }),
          );
        const ctx = { publicUrl: "https://bulwark.example/", by: "alice" };
        const candidate = (await open("candidate")).event;
        await assert.rejects(
          s.store.transaction((tx) =>
            createNotice(
              tx,
              signer,
              candidate,
              { severity: "high", action: "Update", versions: ["1.0.0"] },
              ctx,
            ),
          ),
          { code: "BW_ERR_CONFLICT" },
        );
        const event = (await open("confirmed")).event;
        await assert.rejects(
          s.store.transaction((tx) =>
            createNotice(tx, signer, event, { severity: "high", action: "Update" }, ctx),
          ),
          { code: "BW_ERR_VALIDATION", message: /name the affected versions/ },
        );
        await assert.rejects(
          s.store.transaction((tx) =>
            createNotice(tx, signer, event, { severity: "high", versions: ["1.0.0"] }, ctx),
          ),
          { code: "BW_ERR_VALIDATION", message: /what users should do/ },
        );
        await assert.rejects(
          s.store.transaction((tx) =>
            createNotice(tx, signer, event, { severity: "high", action: "Update", versions: ["9.9.9"] }, ctx),
          ),
          { code: "BW_ERR_CONFLICT", message: /no device/ },
        );
        const notice = await s.store.transaction((tx) =>
          createNotice(
            tx,
            signer,
            event,
            { severity: "high", action: "Update to 1.1.0", versions: ["1.0.1", "1.0.0"] },
            ctx,
          ),
        );
        assert.deepEqual(notice.versions, ["1.0.0", "1.0.1"]);
        assert.equal(notice.text, "Hub incident. Tab and \nbreaks are flattened");
        assert.deepEqual(notice.deliveries, { pending: 2, sent: 0, acknowledged: 0 });
        assert.deepEqual(
          (await openDeliveries(s.store, { noticeId: notice.id })).map((d) => [d.deviceId, d.version]),
          [
            [a, "1.0.0"],
            [b, "1.0.1"],
          ].sort(),
        );
        await markPublished(s.store, notice.id, a, true);
        await markPublished(s.store, notice.id, b, false);
        assert.deepEqual((await noticeById(s.store, notice.id))!.deliveries, {
          pending: 1,
          sent: 1,
          acknowledged: 0,
        });
        assert.equal(await s.store.transaction((tx) => acknowledge(tx, a, notice.id, "ran")), "recorded");
        assert.equal(await s.store.transaction((tx) => acknowledge(tx, a, notice.id, "ran")), "again");
        assert.equal(await s.store.transaction((tx) => acknowledge(tx, other, notice.id, "ran")), "unknown");
        // Published again after the acknowledgement (a reconnect race): it stays acknowledged.
        await markPublished(s.store, notice.id, a, true);
        const rows = await deliveriesOf(s.store, notice.id);
        const ofA = rows.find((r) => r.deviceId === a)!;
        assert.equal(ofA.state, "acknowledged");
        assert.equal(ofA.hook, "ran");
        assert.equal(ofA.attempts, 2);
        assert.equal(rows.find((r) => r.deviceId === b)!.state, "pending");
        assert.deepEqual(
          (await openDeliveries(s.store, { deviceId: b })).map((d) => d.noticeId),
          [notice.id],
        );
        assert.deepEqual(await openDeliveries(s.store, { deviceId: a }), []);
      } finally {
        await s.close();
      }
    });
  });
