import { type EncryptedStore, StoreTamperError } from "@bulwark/sdk/store";
import type { MetadataStore } from "@bulwark/sdk/tuf";
import type { AgentLog } from "../log.ts";
import { tufProductPrefix, tufRecord } from "./update-records.ts";

/**
 * The TUF client's trusted metadata of one product (TUF spec §5.3.8, §5.4.5, §5.5.7, §5.6.6
 * "persist"), as records in the encrypted store. Before each update cycle every record of the
 * product is authenticated; if one fails, all of them are discarded (one error line, one security
 * event from the store) and the client starts again as on first use: root v1 fetched over the
 * mutually authenticated TLS channel pinned to the server's CA, then the root chain walked
 * forward (§5.3) — never trusting a root.json nobody can vouch for.
 */
export function tufMetadataStore(store: EncryptedStore, productId: string, log: AgentLog): MetadataStore {
  const prefix = tufProductPrefix(productId);
  const names = store.list("state").filter((n) => n.startsWith(prefix));
  const tampered = names.filter((name) => {
    try {
      store.get("state", name);
      return false;
    } catch (error) {
      if (error instanceof StoreTamperError) return true;
      throw error;
    }
  });
  if (tampered.length > 0) {
    log.error(
      "trusted TUF metadata failed its integrity check: discarded; the client starts again from root v1 over the pinned TLS channel",
      { productId, records: tampered.length },
    );
    for (const name of names) store.delete("state", name);
  }
  return {
    read: async (name) => store.get("state", tufRecord(productId, name)),
    write: async (name, bytes) => store.put("state", tufRecord(productId, name), bytes),
    remove: async (name) => store.delete("state", tufRecord(productId, name)),
  };
}
