/** Connection admission limits (`--max-connections` and friends in config.ts). */
export interface ConnectionLimits {
  /** Open client connections on both listeners together; undefined = descriptor limit less a reserve. */
  maxConnections: number | undefined;
  mqttMaxPerAddress: number;
  httpMaxPerAddress: number;
  /** TCP accept to completed TLS handshake (the PROXY header included), both listeners. */
  handshakeTimeoutMs: number;
  /** Completed TLS handshake to CONNECT on the MQTT port. */
  mqttConnectTimeoutMs: number;
  /** Completed TLS handshake to the first request's headers on the HTTPS port. */
  httpRequestTimeoutMs: number;
  /** Load balancer addresses (CIDRs) whose connections start with a PROXY protocol v2 header. */
  proxyProtocolFrom: string[];
}
