import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(m): users can securely and easily remove all data and settings
 * permanently and, where data can be transferred, do so securely. Evidence: decommission wipes
 * (crypto-erase) confirmed, and transfers to a replacement device (`bulwark device transfer`:
 * sealed to the new device's X-Wing key, signed by the old one) completed; met once a transfer has.
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
    ];
    const transfers = await ctx.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM device_transfers WHERE state = 'imported'`,
    );
    const transferred = Number(transfers?.n ?? 0);
    evidence.push({
      source: "device_transfers",
      detail: `${transferred} secure transfer(s) to a replacement device completed`,
    });
    if (transferred === 0)
      return verdict(
        "partly-met",
        "decommission wipes by crypto-erase and secure transfer is available, but no transfer to a replacement device has completed yet",
        evidence,
      );
    return verdict("met", "crypto-erase wipes and secure, signed transfers to replacement devices", evidence);
  },
};
