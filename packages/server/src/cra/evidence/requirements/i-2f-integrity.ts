import { type Evaluator, NO_UPDATE_SYSTEM, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(f): integrity of data, commands, programs and configuration, and reporting
 * of corruption. Evidence: signed configuration (the document-signing key of fleet/config-signer),
 * release artifacts signed, integrity failures reported by devices, and signed update delivery.
 */
export const integrity: Evaluator = {
  id: "I-2(f)",
  clause: "CRA Annex I Part I (2)(f)",
  title: "Integrity of data, programs and configuration",
  async evaluate(ctx) {
    const release = await ctx.currentRelease();
    const signatures = release
      ? // Signatures are of artifacts, not releases: those made since the current release was created.
        await ctx.db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM release_signatures WHERE created_at >= ?`,
          [release.createdAt],
        )
      : undefined;
    const ids = (await ctx.devices()).map((d) => d.id);
    const failures = ids.length
      ? await ctx.db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM device_security_events WHERE kind IN ('integrity-failure', 'update-verification-failed')
           AND device_id IN (${ids.map(() => "?").join(", ")})`,
          ids,
        )
      : { n: 0 };
    const configSigner = await ctx.db.get<{ value: string }>(
      `SELECT value FROM settings WHERE key = 'fleet.config-signer'`,
    );
    const evidence = [
      {
        source: "settings",
        detail: configSigner
          ? "configuration is signed by a document-signing key in custody"
          : "no configuration-signing key yet",
      },
      {
        source: "release_signatures",
        detail: release
          ? `${Number(signatures?.n ?? 0)} hybrid artifact signature(s) since ${release.version} was created`
          : "no release",
      },
      {
        source: "device_security_events",
        detail: `${Number(failures?.n ?? 0)} integrity or update-verification failure(s) reported`,
      },
    ];
    if (!release || Number(signatures?.n ?? 0) === 0)
      return verdict("not-met", "the current release's artifacts are not signed", evidence);
    if (!ctx.capabilities.updates)
      return verdict(
        "partly-met",
        `configuration and artifacts are signed, but ${NO_UPDATE_SYSTEM}`,
        evidence,
      );
    return verdict("met", "signed configuration, signed artifacts and signed update delivery", evidence);
  },
};
