import type { Migration } from "./migration.ts";

/**
 * The server → device command an open transfer waits on (`fleet/transfer.ts`), kept so it is sent
 * again each time that device subscribes to `cmd` until its step answers it, and the time after
 * which the transfer fails if the device never does. Transfers made before have neither: they stay
 * where they are, as before.
 */
export const TRANSFER_RESEND_MIGRATION: Migration = {
  id: 975,
  name: "device-transfers-pending-command",
  statements: [
    `ALTER TABLE device_transfers ADD COLUMN pending_device_id TEXT`,
    `ALTER TABLE device_transfers ADD COLUMN pending_command TEXT`,
    `ALTER TABLE device_transfers ADD COLUMN deadline_at BIGINT`,
    `CREATE INDEX device_transfers_pending ON device_transfers(pending_device_id)`,
    `CREATE INDEX device_transfers_deadline ON device_transfers(deadline_at)`,
  ],
};
