import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { EnrolledDevice } from "./enrol-helpers.ts";
import type { TestServer } from "./helpers.ts";

/** MQTT options for an enrolled device over mutual TLS 1.3. */
export function deviceOptions(server: TestServer, device: EnrolledDevice): IClientOptions {
  return {
    protocolVersion: 4,
    clientId: device.deviceId,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    key: device.keyPem,
    cert: device.certChainPem,
    ca: server.rootPem,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  } as IClientOptions;
}

/** Connects and resolves with the client, or rejects with the connection error (TLS alert or CONNACK code). */
export async function connectDevice(server: TestServer, device: EnrolledDevice): Promise<MqttClient> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${server.mqttPort}`, deviceOptions(server, device));
  try {
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
      client.once("close", () => reject(new Error("closed before CONNACK")));
    });
    return client;
  } catch (error) {
    client.end(true);
    throw error;
  }
}
