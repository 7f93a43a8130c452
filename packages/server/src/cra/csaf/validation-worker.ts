/** Worker-thread entry of the CSAF validator pool (validator-pool.ts): validates one document's text. */
import { type CsafValidation, validateCsaf } from "./validation.ts";

export default async function run(text: string): Promise<CsafValidation> {
  return validateCsaf(JSON.parse(text));
}
