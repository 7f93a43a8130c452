import type { Logger } from "pino";
import type { RevocationService } from "../pki/revocation.ts";
import type { Store } from "../store/store.ts";
import type { BrokerHooks } from "./broker-hooks.ts";
import { type ConfigDelivery, configDelivery } from "./config-delivery.ts";
import type { MessageSigner } from "./config-signer.ts";
import type { DeviceChannel } from "./device-channel.ts";
import { handleDeviceMetadata } from "./device-metadata.ts";
import { handleDeviceReport } from "./device-reports.ts";
import type { IncidentDeps } from "./incident-actions.ts";
import { confirmWipe, type WipeDeps, wipeSender } from "./wipe.ts";

export interface FleetService {
  delivery: ConfigDelivery;
  incidents: IncidentDeps;
  /** What completes a wipe (the MQTT confirmation, the signed receipt over HTTPS). */
  wipes: WipeDeps;
  /** What the broker calls on device traffic. */
  brokerHooks: BrokerHooks;
}

/** The fleet domain's runtime parts, built once by the composition root. */
export function fleetService(deps: {
  store: Store;
  signer: MessageSigner;
  channel: DeviceChannel;
  revocation: RevocationService;
  log: Logger;
}): FleetService {
  const delivery = configDelivery(deps);
  const wipe = wipeSender(deps.signer, deps.channel);
  const brokerHooks: BrokerHooks = {
    async subscribed(deviceId, kind, status) {
      // Push on connect: the device's policy when it subscribes to `config`, a pending wipe on `cmd`.
      if (kind === "config" && (status === "active" || status === "quarantined"))
        await delivery.push(deviceId);
      if (kind === "cmd" && status === "decommissioned") {
        const row = await deps.store.get<{ pending_wipe_id: string | null }>(
          `SELECT pending_wipe_id FROM devices WHERE id = ?`,
          [deviceId],
        );
        if (row?.pending_wipe_id) await wipe.send(deviceId, row.pending_wipe_id);
      }
    },
    async metadata(deviceId, payload) {
      await handleDeviceMetadata(deps, deviceId, payload);
    },
    async report(deviceId, payload) {
      await handleDeviceReport(deps, deviceId, payload);
    },
    async jobStatus(deviceId, jobId, report) {
      await confirmWipe(deps, deviceId, jobId, report);
    },
  };
  return {
    delivery,
    incidents: { store: deps.store, channel: deps.channel, wipe, revocation: deps.revocation },
    wipes: { store: deps.store, channel: deps.channel, revocation: deps.revocation, log: deps.log },
    brokerHooks,
  };
}
