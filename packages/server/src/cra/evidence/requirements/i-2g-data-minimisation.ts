import { sanitiseMetadata } from "@bulwark/sdk/wire/metadata";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(g): process only data that is adequate, relevant and limited to the
 * intended purpose. Evidence: the metadata allow-list the broker applies (probed, not restated:
 * a field outside it is offered and must be dropped) and the dropped-field counters of the devices.
 */
export const dataMinimisation: Evaluator = {
  id: "I-2(g)",
  clause: "CRA Annex I Part I (2)(g)",
  title: "Data minimisation",
  async evaluate(ctx) {
    const probe = sanitiseMetadata({ model: "probe", location: "51.5,-0.1", owner: "someone" });
    const devices = await ctx.devices();
    const dropped = devices.reduce((sum, d) => sum + d.droppedFields, 0);
    const evidence = [
      {
        source: "wire allow-list",
        detail: `kept ${Object.keys(probe.metadata).join(", ")}; dropped ${probe.dropped.join(", ")}`,
      },
      {
        source: "devices",
        detail: `${dropped} field(s) dropped and counted across ${devices.length} device(s)`,
      },
    ];
    if (probe.dropped.length !== 2)
      return verdict("not-met", "metadata outside the allow-list is kept", evidence);
    return verdict(
      "met",
      "device metadata is reduced to an allow-list and what is dropped is counted",
      evidence,
    );
  },
};
