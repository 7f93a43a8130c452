import { WIPE_RECEIPT_MAX_BYTES } from "@bulwark/sdk/wire/wipe-receipt";
import type { FastifyInstance } from "fastify";
import type { WipeDeps } from "./wipe.ts";
import { acceptWipeReceipt } from "./wipe-receipt.ts";

/**
 * `POST /api/v1/wipe-receipts`: where a wiped device delivers its signed wipe receipt. Public (the
 * device erased its key, so it has no client certificate left): the receipt's signature is the
 * authentication (`wipe-receipt.ts`). Rate-limited per IP in the `public` class (`http/rate-limits.ts`),
 * the body bounded and its shape checked before anything is read from the store; bad input is
 * answered with RFC 9457 problem+json.
 */
export function wipeReceiptRoutes(deps: WipeDeps) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post(
      "/api/v1/wipe-receipts",
      { config: { auth: { public: true } }, bodyLimit: WIPE_RECEIPT_MAX_BYTES },
      async (request) => acceptWipeReceipt(deps, request.body, request.ip),
    );
  };
}
