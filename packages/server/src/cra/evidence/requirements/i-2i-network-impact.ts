import { DEFAULT_LIMITS } from "../../../mqtt/limits.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(i): minimise the negative impact on the availability of services provided
 * by other devices or networks. Evidence: per-device publish limits and per-address connection
 * limits at the broker, and the quarantine action used on the product's devices when needed.
 */
export const networkImpact: Evaluator = {
  id: "I-2(i)",
  clause: "CRA Annex I Part I (2)(i)",
  title: "Minimise impact on other devices and networks",
  async evaluate(ctx) {
    const devices = await ctx.devices();
    const quarantined = devices.filter((d) => d.status === "quarantined").length;
    const evidence = [
      {
        source: "broker limits",
        detail: `per device ${DEFAULT_LIMITS.publishPerSecond} msg/s (burst ${DEFAULT_LIMITS.publishBurst}); per address ${DEFAULT_LIMITS.connectionsPerSecond} connections/s`,
      },
      { source: "devices", detail: `${quarantined} of ${devices.length} device(s) quarantined now` },
    ];
    if (DEFAULT_LIMITS.publishPerSecond <= 0 || DEFAULT_LIMITS.connectionsPerSecond <= 0)
      return verdict("not-met", "a device or an address is not rate limited", evidence);
    return verdict(
      "met",
      "each device and each address is rate limited, and a device can be quarantined",
      evidence,
    );
  },
};
