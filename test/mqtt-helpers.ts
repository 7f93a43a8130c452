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

/**
 * Resolves when the connection closes; rejects when it is still open after `timeoutMs` (a bound
 * on waiting, so a broker that never closes fails the test instead of hanging it).
 */
export const closed = (client: MqttClient, what = "the connection", timeoutMs = 20_000) =>
  closeOf(client, what, timeoutMs);

/** `closed` for any emitter of "close" (a raw stream handed to the broker). */
export function closeOf(
  emitter: { once(event: "close", listener: () => void): unknown },
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} was not closed within ${timeoutMs} ms`)),
      timeoutMs,
    );
    emitter.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
