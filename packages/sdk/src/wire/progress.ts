/**
 * How often a device reports a download's progress on `jobs/{jobId}/status` (issue #15: live
 * aggregate progress). Each report is a stored write on the server and a PUBACK back, so a device
 * reports progress when it tells the operator something new, not per chunk:
 *
 * - never sooner than `minIntervalMs` after its previous report of the job (a 1 MiB download on a
 *   fast link ends before anyone could read a percentage: its `downloading` and `verifying` reports
 *   say all there is);
 * - then at each further `step` of the total (10 %), or after `heartbeatMs` without one, so a slow
 *   download still moves its job's deadline (`jobTimeoutSeconds`: "no progress within …") and its
 *   bar;
 * - never for the last byte: the `verifying` report follows at once.
 *
 * AWS IoT Jobs throttles a device's job execution updates the same way in kind (a per-device rate
 * limit); Mender's client reports states only, no progress at all.
 */
export interface ProgressPacing {
  minIntervalMs: number;
  heartbeatMs: number;
  /** Fraction of the total that is worth a report (after `minIntervalMs`). */
  step: number;
}

export const PROGRESS_PACING: ProgressPacing = { minIntervalMs: 2_000, heartbeatMs: 60_000, step: 0.1 };

/**
 * A pacer for one download, started when the device reported `downloading` (at `now()`): called
 * with each chunk's running total, it answers whether a progress report is due now (and counts it
 * as sent when it is).
 */
export function progressPacer(
  pacing: ProgressPacing = PROGRESS_PACING,
  now: () => number = Date.now,
): (bytes: number, total: number) => boolean {
  let lastAt = now();
  let lastBytes = 0;
  return (bytes, total) => {
    if (bytes >= total) return false;
    const at = now();
    const since = at - lastAt;
    if (since < pacing.minIntervalMs) return false;
    if (bytes - lastBytes < total * pacing.step && since < pacing.heartbeatMs) return false;
    lastAt = at;
    lastBytes = bytes;
    return true;
  };
}
