/** `@bulwark/sdk/est`: the device side of EST (RFC 7030) — pinned CA certificates, simpleenroll, simplereenroll. */
export * from "./client.ts";
