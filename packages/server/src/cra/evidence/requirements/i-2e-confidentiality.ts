import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(e): confidentiality of stored, transmitted and processed data by
 * state-of-the-art encryption. Evidence: the listeners' TLS floor, the key-exchange groups the
 * groups' policies give devices (hybrid post-quantum X25519MLKEM768 first), CA keys sealed in custody.
 */
export const confidentiality: Evaluator = {
  id: "I-2(e)",
  clause: "CRA Annex I Part I (2)(e)",
  title: "Confidentiality by state-of-the-art encryption",
  async evaluate(ctx) {
    const { listenerTls, keyCustody } = ctx.capabilities;
    const policies = await ctx.groupPolicies();
    const evidence = [
      { source: "listeners", detail: `HTTPS ${listenerTls.http} minimum, MQTT ${listenerTls.mqtt} minimum` },
      { source: "key custody", detail: keyCustody },
      ...policies.map((p) => ({
        source: "device_policies",
        detail: `group ${p.group}: ${p.settings.tls.minVersion}, groups ${p.settings.tls.groups.join(" > ")}`,
      })),
    ];
    if (listenerTls.http !== "TLSv1.3" || listenerTls.mqtt !== "TLSv1.3")
      return verdict("not-met", "a listener accepts TLS below 1.3", evidence);
    if (policies.length === 0)
      return verdict(
        "partly-met",
        "no device group is linked, so device transport is not evidenced",
        evidence,
      );
    const classical = policies.filter((p) => p.settings.tls.groups[0] !== "X25519MLKEM768");
    if (classical.length > 0)
      return verdict(
        "partly-met",
        `TLS 1.3 everywhere, but ${classical.map((c) => c.group).join(", ")} do not prefer the hybrid post-quantum key exchange`,
        evidence,
      );
    return verdict(
      "met",
      "TLS 1.3 only with hybrid post-quantum key exchange; keys encrypted at rest",
      evidence,
    );
  },
};
