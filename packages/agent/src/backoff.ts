/** Reconnect backoff defaults: a reconnect is spread over at least 10 s, the window doubles per failure up to 5 min. */
export const RECONNECT = { baseMs: 1000, spreadMs: 10_000, capMs: 300_000 } as const;

/**
 * Reconnect delay after a lost connection: exponential backoff with full jitter (CRA Annex I Part I
 * (2)(i): a fleet that lost its broker must not come back as a reconnect storm). The delay is
 * uniform over a window that doubles with each failed attempt, from `baseMs` up to `capMs`, and is
 * never narrower than `spreadMs`: after a broker restart that is over at once, a thousand agents
 * would otherwise all be back within the first second (`reconnect-spread.test.ts` measures it).
 */
export function backoffMs(
  attempt: number,
  baseMs: number = RECONNECT.baseMs,
  capMs: number = RECONNECT.capMs,
  random: () => number = Math.random,
  spreadMs: number = RECONNECT.spreadMs,
): number {
  const window = Math.min(capMs, Math.max(spreadMs, baseMs * 2 ** Math.min(attempt, 20)));
  return Math.floor(random() * window);
}
