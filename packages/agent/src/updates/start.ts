import type { EncryptedStore } from "@bulwark/sdk/store";
import type { AgentLog } from "../log.ts";
import type { ReportOutbox } from "./report-outbox.ts";
import { agentFloorAnchor } from "./tpm-floor.ts";
import { UpdateAgent } from "./update-agent.ts";

/** Wires the update agent into `run`: job reports go out on MQTT, downloads use the device's TLS identity. */
export function startUpdates(options: {
  stateDir: string;
  /** The agent's encrypted store: the update state lives there beside the device key. */
  store: EncryptedStore;
  serverUrl: string;
  deviceId: string;
  /** The device's current key (PEM, in memory only) and certificate chain, read at each use (renewal replaces them). */
  identity: () => { keyPem: string; certChainPem: string };
  caPem: string;
  /** The agent's outbox on `jobs/{id}/status` (shared with transfer steps: one order, one bound). */
  outbox: ReportOutbox;
  /** Publishes the device's metadata again (its installed firmware and anti-rollback floor changed). */
  onMetadataChange?: () => void;
  log: AgentLog;
}): UpdateAgent {
  const tls = () => {
    const { keyPem, certChainPem } = options.identity();
    return { ca: options.caPem, cert: certChainPem, key: keyPem };
  };
  const { outbox } = options;
  const agent = new UpdateAgent({
    stateDir: options.stateDir,
    store: options.store,
    floorAnchor: agentFloorAnchor(options.stateDir),
    serverUrl: options.serverUrl,
    tls,
    log: options.log,
    ...(options.onMetadataChange ? { onMetadataChange: options.onMetadataChange } : {}),
    // Kept in the encrypted store until the server acknowledged them, sent again after a reconnect.
    report: (jobId, report) => outbox.add(jobId, report),
  });
  void agent
    .start()
    .catch((error: unknown) =>
      options.log.error("update recovery failed", { reason: (error as Error).message }),
    );
  return agent;
}
