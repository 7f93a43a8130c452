import { createPrivateKey } from "node:crypto";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { MqttClient } from "mqtt";
import type { AgentLog } from "../log.ts";
import { UpdateAgent } from "./update-agent.ts";

/** Wires the update agent into `run`: job reports go out on MQTT, downloads use the device's TLS identity. */
export function startUpdates(options: {
  stateDir: string;
  serverUrl: string;
  deviceId: string;
  /** The device's current key (sealed PEM) and certificate chain, read at each use (renewal replaces them). */
  identity: () => { keyPem: string; certChainPem: string };
  /** The data key's passphrase for the sealed key; the key is held decrypted in memory only. */
  passphrase: string;
  caPem: string;
  client: MqttClient;
  log: AgentLog;
}): UpdateAgent {
  const topics = deviceTopics(options.deviceId);
  const tls = () => {
    const { keyPem, certChainPem } = options.identity();
    const key = createPrivateKey({ key: keyPem, passphrase: options.passphrase }).export({
      type: "pkcs8",
      format: "pem",
    });
    return { ca: options.caPem, cert: certChainPem, key: key.toString() };
  };
  const agent = new UpdateAgent({
    stateDir: options.stateDir,
    serverUrl: options.serverUrl,
    tls,
    log: options.log,
    report: (jobId, report) =>
      options.client.publish(topics.jobStatus(jobId), JSON.stringify(report), { qos: 1 }, (error) => {
        if (error) options.log.warn("job status not published", { jobId, reason: error.message });
      }),
  });
  void agent
    .start()
    .catch((error: unknown) =>
      options.log.error("update recovery failed", { reason: (error as Error).message }),
    );
  return agent;
}
