import { currentRateLimits } from "../../../http/rate-limits.ts";
import { DEFAULT_LIMITS } from "../../../mqtt/limits.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(h): availability of essential functions, resilience against denial of
 * service. Evidence: the HTTP rate limits in force, the broker's limits, and a passing load test
 * in the last 12 months.
 */
export const availability: Evaluator = {
  id: "I-2(h)",
  clause: "CRA Annex I Part I (2)(h)",
  title: "Availability and resilience to denial of service",
  async evaluate(ctx) {
    const limits = currentRateLimits();
    const loads = await ctx.passedTests("load");
    const evidence = [
      {
        source: "rate limits",
        detail: `per IP per minute: public ${limits.public}, sign-in ${limits.signIn}, API ${limits.authenticated}`,
      },
      {
        source: "broker limits",
        detail: `packets ≤ ${DEFAULT_LIMITS.maxPacketBytes} B, ${DEFAULT_LIMITS.publishPerSecond}/s per device, ${DEFAULT_LIMITS.connectionsPerSecond} connections/s per address`,
      },
      ...loads.map((t) => ({
        source: "cra_test_records",
        detail: `load test: ${t.summary}`,
        ref: t.id,
        at: t.performedAt,
      })),
    ];
    if (loads.length === 0)
      return verdict(
        "partly-met",
        "limits are in force, but no passing load test in the last 12 months",
        evidence,
      );
    return verdict("met", "rate and broker limits in force, load tested", evidence);
  },
};
