import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(m): users can securely and easily remove all data and settings
 * permanently and, where data can be transferred, do so securely. Evidence: decommission wipes
 * (crypto-erase) completed; the platform has no transfer to a replacement device, so at best
 * partly met until it does.
 */
export const dataRemoval: Evaluator = {
  id: "I-2(m)",
  clause: "CRA Annex I Part I (2)(m)",
  title: "Secure removal and transfer of data",
  async evaluate(ctx) {
    const wipes = await ctx.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'device.wiped'`,
    );
    const evidence = [
      {
        source: "audit_log",
        detail: `${Number(wipes?.n ?? 0)} device wipe(s) (crypto-erase) confirmed on the platform`,
      },
      { source: "platform", detail: "no secure transfer of a device's data to a replacement device" },
    ];
    return verdict(
      "partly-met",
      "decommission wipes by crypto-erase, but the platform cannot yet transfer data securely to a replacement device",
      evidence,
    );
  },
};
