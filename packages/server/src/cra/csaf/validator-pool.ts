import { BulwarkError } from "@bulwark/sdk/errors";
import Tinypool from "tinypool";
import type { CsafValidation } from "./validation.ts";

/**
 * CSAF validation off the event loop. The validator's tests are synchronous and one of them alone
 * holds a thread for hundreds of milliseconds on a large advisory; loading the library compiles its
 * schemas for seconds (`npm run bench -- csaf-validate`). So it runs on one worker thread, started
 * at the first publication and ended after ten idle minutes or when the server closes.
 */
export class CsafValidatorPool {
  readonly #pool = new Tinypool({
    filename: new URL("./validation-worker.ts", import.meta.url).href,
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 10 * 60_000,
    maxQueue: 16,
    // Process-wide V8 flags of the parent (npm start's heap tuning) are not valid in a worker.
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });

  async validate(text: string): Promise<CsafValidation> {
    if (this.#pool.queueSize >= 16)
      throw new BulwarkError(
        "BW_ERR_UNAVAILABLE",
        "too many CSAF documents are being validated; try again shortly",
      );
    try {
      return (await this.#pool.run(text)) as CsafValidation;
    } catch (error) {
      throw new BulwarkError("BW_ERR_INTERNAL", undefined, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

/**
 * CSAF 2.0 §7.1.1 (requirement 1) at publication: refuses a document that fails the schema or a
 * mandatory test with the RFC 9457 problem `BW_ERR_CSAF_INVALID`, whose `failedTests` extension
 * member lists each failure. Returns the validation, recommended tests' findings included.
 */
export async function assertValidCsaf(
  validate: (text: string) => Promise<CsafValidation>,
  text: string,
): Promise<CsafValidation> {
  const result = await validate(text);
  if (result.errors.length)
    throw new BulwarkError(
      "BW_ERR_CSAF_INVALID",
      `the CSAF document fails ${new Set(result.errors.map((e) => e.test)).size} schema or mandatory test(s)`,
      { extensions: { failedTests: result.errors } },
    );
  return result;
}
