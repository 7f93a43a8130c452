import type { Migration } from "../store/migrations.ts";

/** Device-to-device transfers (`transfer.ts`): their state for the operator, per transfer. */
export const TRANSFER_MIGRATION: Migration = {
  id: 870,
  name: "device-transfers",
  statements: [
    `CREATE TABLE device_transfers (
      id TEXT PRIMARY KEY, source_device_id TEXT NOT NULL, target_device_id TEXT NOT NULL,
      state TEXT NOT NULL, reason TEXT, records INTEGER, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
  ],
};
