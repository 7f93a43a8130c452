/** `@bulwark/sdk/wire`: MQTT topic names, message types and their validators (docs/architecture.md "Wire protocol"). */
export * from "./commands.ts";
export * from "./jobs.ts";
export * from "./metadata.ts";
export * from "./policy.ts";
export * from "./progress.ts";
export * from "./reports.ts";
export * from "./signed.ts";
export * from "./topics.ts";
export * from "./transfer.ts";
export * from "./user-notice.ts";
