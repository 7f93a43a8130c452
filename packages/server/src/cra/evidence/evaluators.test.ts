import assert from "node:assert/strict";
import { it } from "node:test";
import { DEFAULT_POLICY_SETTINGS, type PolicySettings } from "@bulwark/sdk/wire/policy";
import { release, storeBackends } from "../../../test/store-fixtures.ts";
import { insertDevice, newDeviceId, recordMetadata } from "../../fleet/devices.ts";
import { createGroup } from "../../fleet/groups.ts";
import { assignPolicyToGroup, publishPolicyVersion } from "../../fleet/policies.ts";
import type { Store } from "../../store/store.ts";
import { craCapabilities } from "../capabilities.ts";
import { productById } from "../product-source.ts";
import { addRiskAssessment, PART_I_2_ITEMS } from "../risk.ts";
import { linkGroup } from "../support.ts";
import { addTestRecord } from "../testing.ts";
import { evaluateAnnexI } from "./engine.ts";
import type { RequirementId, UpdateEvidence } from "./types.ts";

/**
 * The policy-, device- and record-based evaluators on both stores: each check changes one piece of
 * live state and reads the requirement it must move (and only the reason it must give).
 */
const policy = (change: (s: PolicySettings) => void): PolicySettings => {
  const s = structuredClone(DEFAULT_POLICY_SETTINGS);
  change(s);
  return s;
};

for (const backend of storeBackends)
  it(`policy, device and record evaluators on ${backend.name}`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const r = await release(t.store, "hub", "3.0");
      const product = (await productById(t.store, r.productId))!;
      const row = async (id: RequirementId, updates: UpdateEvidence | null = null, store: Store = t.store) =>
        (await evaluateAnnexI(store, product, craCapabilities(updates))).requirements.find(
          (x) => x.id === id,
        )!;
      const publish = (settings: PolicySettings) =>
        t.store.transaction(async (tx) => {
          await publishPolicyVersion(tx, "hub-policy", settings, null);
        });

      await ctx.test("no linked group: (b), (c) not met, (l) partly met", async () => {
        assert.equal((await row("I-2(b)")).status, "not-met");
        assert.equal((await row("I-2(c)")).status, "not-met");
        assert.equal((await row("I-2(l)")).status, "partly-met");
      });

      const group = await createGroup(t.store, "hubs");
      await publish(policy((s) => (s.updates.mode = "manual")));
      await t.store.transaction(async (tx) => {
        await assignPolicyToGroup(tx, group.id, "hub-policy");
        await linkGroup(tx, product.id, group.id);
      });

      await ctx.test("manual updates by policy: (b) and (c) not met, naming the group", async () => {
        const c = await row("I-2(c)");
        assert.equal(c.status, "not-met");
        assert.match(c.reason, /hubs/);
        assert.equal((await row("I-2(b)")).status, "not-met");
      });

      await ctx.test(
        "automatic updates: (c) only partly met without an update system, met with one",
        async () => {
          await publish(DEFAULT_POLICY_SETTINGS);
          const c = await row("I-2(c)");
          assert.equal(c.status, "partly-met");
          assert.match(c.reason, /no signed-update system/);
          assert.equal((await row("II-7")).status, "not-met");
          const live: UpdateEvidence = {
            repository: async () => ({ active: true, detail: "TUF repository hub, version 3" }),
            deliveredSecurityReleases: async () => 1,
          };
          assert.equal((await row("I-2(c)", live)).status, "met");
          assert.equal((await row("II-7", live)).status, "met");
        },
      );

      await ctx.test("(b) needs a tested factory reset; a failed test does not count", async () => {
        const performedAt = Date.now() - 1000;
        const record = (outcome: "pass" | "fail") =>
          t.store.transaction((tx) =>
            addTestRecord(
              tx,
              product.id,
              {
                releaseId: r.id,
                kind: "factory-reset",
                tool: "lab",
                outcome,
                summary: "reset",
                report: null,
                performedAt,
              },
              null,
            ),
          );
        assert.equal((await row("I-2(b)")).status, "partly-met");
        await record("fail");
        assert.equal((await row("I-2(b)")).status, "partly-met");
        await record("pass");
        assert.equal((await row("I-2(b)")).status, "met");
      });

      await ctx.test(
        "(e) partly met without the hybrid post-quantum group first; (l) partly met with logging off",
        async () => {
          assert.equal((await row("I-2(e)")).status, "met");
          assert.equal((await row("I-2(l)")).status, "met");
          await publish(
            policy((s) => {
              s.tls.groups = ["X25519"];
              s.securityEventLogging = false;
            }),
          );
          const e = await row("I-2(e)");
          assert.equal(e.status, "partly-met");
          assert.match(e.reason, /post-quantum/);
          const l = await row("I-2(l)");
          assert.equal(l.status, "partly-met");
          assert.match(l.reason, /logging is off/);
        },
      );

      await ctx.test(
        "(j): no report → partly met; no open port → met; a listening port → partly met",
        async () => {
          const id = newDeviceId();
          await insertDevice(t.store, { id, groupId: group.id, enrolledVia: "token" });
          assert.match((await row("I-2(j)")).reason, /no device of the product has reported/);
          await recordMetadata(t.store, id, { listeningPorts: [] }, 0);
          assert.equal((await row("I-2(j)")).status, "met");
          await recordMetadata(t.store, id, { listeningPorts: [22] }, 0);
          const j = await row("I-2(j)");
          assert.equal(j.status, "partly-met");
          assert.match(j.evidence.map((e) => e.detail).join(), /22/);
          // The active device has no certificate: (d) must say so.
          assert.equal((await row("I-2(d)")).status, "not-met");
        },
      );

      await ctx.test(
        "I-1: no risk assessment → not met; a current one → partly met while others are open",
        async () => {
          assert.equal((await row("I-1")).status, "not-met");
          const applies = Object.fromEntries(
            PART_I_2_ITEMS.map((k) => [k, { applies: true, how: "x", justification: "y" }]),
          );
          await t.store.transaction((tx) =>
            addRiskAssessment(
              tx,
              product.id,
              {
                context: "c",
                assets: [{ id: "a", description: "a" }],
                threats: [{ id: "t", description: "t", assets: ["a"], likelihood: "low", impact: "low" }],
                applicability: applies as never,
              },
              null,
            ),
          );
          const one = await row("I-1");
          assert.equal(one.status, "partly-met");
          assert.match(one.reason, /other requirement\(s\) are not fully met/);
        },
      );
    } finally {
      await t.close();
    }
  });
