import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import type { EmbeddedBroker } from "../mqtt/broker.ts";
import type { ControlBus } from "./bus.ts";

/**
 * The fleet's `DeviceChannel` across every server process: a status change or kick is applied
 * to this process's sessions at once (so the caller gets the local count), then raised on the
 * control bus for the others; events this process raised itself are skipped when they come back.
 * Publishing needs no fan-out: with the Redis backends Aedes already routes messages cluster-wide.
 */
export function clusterChannel(broker: EmbeddedBroker, control: ControlBus, log: Logger): DeviceChannel {
  const origin = randomUUID();
  const raise = (event: Parameters<ControlBus["publish"]>[0]) =>
    void control
      .publish({ ...event, origin })
      .catch((err) => log.warn({ err }, "control event not published"));

  control.subscribe((event) => {
    if (event.origin === origin) return;
    switch (event.type) {
      case "device.disconnect": {
        const closed = broker.disconnect(event.deviceId);
        if (closed)
          log.info({ deviceId: event.deviceId, sessions: closed }, "device disconnected by control event");
        return;
      }
      case "device.status": {
        const affected = broker.applyStatus(event.deviceId, event.status);
        if (affected)
          log.info(
            { deviceId: event.deviceId, status: event.status, sessions: affected },
            "device status applied",
          );
        return;
      }
      case "certificate.revoked": {
        const closed = broker.disconnectCertificate(event.deviceId, event.serial);
        if (closed)
          log.info(
            { deviceId: event.deviceId, serial: event.serial, sessions: closed },
            "revoked certificate's sessions closed by control event",
          );
        return;
      }
    }
  });

  return {
    publish: (deviceId, kind, payload) => broker.publish(deviceId, kind, payload),
    applyStatus(deviceId, status) {
      const affected = broker.applyStatus(deviceId, status);
      raise({ type: "device.status", deviceId, status });
      return affected;
    },
    disconnect(deviceId) {
      const closed = broker.disconnect(deviceId);
      raise({ type: "device.disconnect", deviceId });
      return closed;
    },
    disconnectCertificate(deviceId, serial) {
      const closed = broker.disconnectCertificate(deviceId, serial);
      raise({ type: "certificate.revoked", deviceId, serial });
      return closed;
    },
  };
}
