import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(j): limit attack surfaces, including external interfaces. Evidence: the
 * listening ports the product's devices report (the agent itself opens none).
 */
export const attackSurface: Evaluator = {
  id: "I-2(j)",
  clause: "CRA Annex I Part I (2)(j)",
  title: "Limited attack surface",
  async evaluate(ctx) {
    const devices = (await ctx.devices()).filter((d) => d.status !== "decommissioned");
    const reporting = devices.filter((d) => Array.isArray(d.metadata.listeningPorts));
    const open = reporting.filter((d) => (d.metadata.listeningPorts ?? []).length > 0);
    const evidence = [
      {
        source: "devices",
        detail: `${reporting.length} of ${devices.length} device(s) report their listening ports`,
      },
      ...open.map((d) => ({
        source: "devices",
        detail: `listening on ${d.metadata.listeningPorts!.join(", ")}`,
        ref: d.id,
      })),
    ];
    if (open.length > 0)
      return verdict("partly-met", `${open.length} device(s) listen on inbound ports`, evidence);
    if (reporting.length === 0)
      return verdict("partly-met", "no device of the product has reported its listening ports", evidence);
    return verdict("met", "no device of the product listens on an inbound port", evidence);
  },
};
