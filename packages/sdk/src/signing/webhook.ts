import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Bulwark webhook signatures: header `Bulwark-Signature: t=<unix seconds>,v1=<hex>` where v1 is
 * HMAC-SHA256 (RFC 2104) under the webhook secret over `<t>.<raw body>`. Binding the timestamp lets
 * a receiver refuse replays older than its tolerance.
 */
export const WEBHOOK_SIGNATURE_HEADER = "bulwark-signature";

export function webhookSignature(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/** Verifies a signature header in constant time; `toleranceSeconds` bounds the age of the timestamp. */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (m === null) return false;
  const t = Number(m[1]);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(webhookSignature(secret, t, body).slice(-64), "hex");
  return timingSafeEqual(expected, Buffer.from(m[2]!, "hex"));
}
