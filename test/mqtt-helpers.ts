import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { EnrolledDevice } from "./enrol-helpers.ts";
import type { TestServer } from "./helpers.ts";

/** mqtt.js options for a device identity (MQTT 3.1.1, mutual TLS 1.3); `extra` overrides any of them. */
export function deviceOptions(
  server: TestServer,
  device: Partial<EnrolledDevice> & { deviceId: string },
  extra: IClientOptions = {},
): IClientOptions {
  return {
    protocolVersion: 4,
    clientId: device.deviceId,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 30,
    key: device.keyPem,
    cert: device.certChainPem,
    ca: server.rootPem,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    ...extra,
  } as IClientOptions;
}

/** Connects with raw options; resolves with the client or rejects with the error (TLS alert or CONNACK code). */
export async function connectWith(server: TestServer, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${server.mqttPort}`, options);
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

export const connectDevice = (server: TestServer, device: EnrolledDevice, extra: IClientOptions = {}) =>
  connectWith(server, deviceOptions(server, device, extra));

export const closed = (client: MqttClient) =>
  new Promise<void>((resolve) => client.once("close", () => resolve()));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
