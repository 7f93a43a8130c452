import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ControlBus } from "../control/bus.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import type { EmbeddedBroker } from "./broker.ts";

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

  // Logs what an event from another process did here, when it touched a session of this one.
  const acted = (sessions: number, fields: Record<string, string>, message: string) => {
    if (sessions) log.info({ ...fields, sessions }, message);
  };
  control.subscribe((event) => {
    if (event.origin === origin) return;
    const { deviceId } = event;
    switch (event.type) {
      case "device.disconnect":
        return acted(broker.disconnect(deviceId), { deviceId }, "device disconnected by control event");
      case "device.status":
        return acted(
          broker.applyStatus(deviceId, event.status),
          { deviceId, status: event.status },
          "device status applied",
        );
      case "certificate.revoked":
        return acted(
          broker.disconnectCertificate(deviceId, event.serial),
          { deviceId, serial: event.serial },
          "revoked certificate's sessions closed by control event",
        );
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
