import type { ConfigMessage } from "@bulwark/sdk/wire/policy";
import type { Logger } from "pino";
import type { Store } from "../store/store.ts";
import type { MessageSigner } from "./config-signer.ts";
import type { DeviceChannel } from "./device-channel.ts";
import { policyForDevice } from "./policies.ts";

export interface ConfigDelivery {
  /** Sends the device its current policy, signed; false when its group has no policy. */
  push(deviceId: string): Promise<boolean>;
  /** Pushes to many devices (assignment change, new version); failures are logged, not thrown. */
  pushAll(deviceIds: string[]): Promise<number>;
}

export function configDelivery(deps: {
  store: Store;
  signer: MessageSigner;
  channel: DeviceChannel;
  log: Logger;
}): ConfigDelivery {
  async function push(deviceId: string): Promise<boolean> {
    const policy = await policyForDevice(deps.store, deviceId);
    if (!policy) return false;
    const message: ConfigMessage = {
      type: "config",
      deviceId,
      policy: { name: policy.name, version: policy.version, settings: policy.settings },
      issuedAt: Date.now(),
    };
    await deps.channel.publish(deviceId, "config", await deps.signer.seal(message));
    return true;
  }
  return {
    push,
    async pushAll(deviceIds) {
      let sent = 0;
      for (const id of deviceIds) {
        try {
          if (await push(id)) sent++;
        } catch (err) {
          deps.log.error({ err, deviceId: id }, "configuration not delivered");
        }
      }
      return sent;
    },
  };
}
