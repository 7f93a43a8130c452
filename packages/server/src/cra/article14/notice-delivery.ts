import { isUserNoticeAck } from "@bulwark/sdk/wire/user-notice";
import type { Logger } from "pino";
import { appendAudit } from "../../audit/audit-log.ts";
import type { BrokerHooks } from "../../fleet/broker-hooks.ts";
import type { MessageSigner } from "../../fleet/config-signer.ts";
import type { DeviceChannel } from "../../fleet/device-channel.ts";
import type { Store } from "../../store/store.ts";
import { eventById } from "./events.ts";
import { acknowledge, markPublished, noticeById, noticeCommand, openDeliveries } from "./notices.ts";

/**
 * Delivers CRA Art. 14(8) notices in-band: a signed `user-notice` command on each device's `cmd`
 * topic (the same signer as configuration and wipes), again on every reconnect until the device
 * acknowledges it on `jobs/{noticeId}/status`.
 */
export interface UserNoticeDelivery {
  /** Publishes a notice to every device that has not acknowledged it; returns how many were online. */
  deliver(noticeId: string): Promise<{ published: number; online: number }>;
  /** The device subscribed to `cmd`: its unacknowledged notices go out again. */
  subscribed(deviceId: string): Promise<void>;
  /** A `jobs/{jobId}/status` report: true when it was a notice acknowledgement (recorded here). */
  jobStatus(deviceId: string, jobId: string, report: unknown): Promise<boolean>;
}

export function userNoticeDelivery(deps: {
  store: Store;
  signer: MessageSigner;
  channel: Pick<DeviceChannel, "publish">;
  log: Logger;
}): UserNoticeDelivery {
  const send = async (noticeId: string, deviceId: string, version: string | null, online: boolean) => {
    const notice = await noticeById(deps.store, noticeId);
    const event = notice && (await eventById(deps.store, notice.eventId));
    if (!notice || !event) return;
    await deps.channel.publish(
      deviceId,
      "cmd",
      await deps.signer.seal(noticeCommand(notice, event, deviceId, version)),
    );
    await markPublished(deps.store, noticeId, deviceId, online);
  };

  return {
    async deliver(noticeId) {
      let published = 0;
      let online = 0;
      for (const d of await openDeliveries(deps.store, { noticeId })) {
        const row = await deps.store.get<{ online: number }>(`SELECT online FROM devices WHERE id = ?`, [
          d.deviceId,
        ]);
        const connected = Number(row?.online ?? 0) === 1;
        // An offline device drops nothing here: MQTT keeps no message for it, its reconnect sends it.
        await send(noticeId, d.deviceId, d.version, connected);
        published++;
        if (connected) online++;
      }
      deps.log.info({ noticeId, published, online }, "Art. 14(8) user notice sent");
      return { published, online };
    },
    async subscribed(deviceId) {
      for (const d of await openDeliveries(deps.store, { deviceId }))
        await send(d.noticeId, deviceId, d.version, true);
    },
    async jobStatus(deviceId, jobId, parsed) {
      if (!isUserNoticeAck(parsed, jobId)) return false;
      const ack = parsed;
      const outcome = await deps.store.transaction(async (tx) => {
        const result = await acknowledge(tx, deviceId, jobId, ack.hook);
        if (result === "recorded") {
          const notice = await noticeById(tx, jobId);
          await appendAudit(tx, {
            actor: { type: "device", id: deviceId },
            action: "cra.user-notice.acknowledged",
            target: { type: "cra-report", id: notice!.eventId },
            outcome: "success",
            details: { notice: jobId, hook: ack.hook },
          });
        }
        return result;
      });
      if (outcome === "unknown") return false;
      deps.log.info({ deviceId, noticeId: jobId, hook: ack.hook, outcome }, "user notice acknowledged");
      return true;
    },
  };
}

/** The broker's hooks with notice acknowledgements taken first, and notices re-sent on `cmd` subscriptions. */
export function withUserNotices(hooks: BrokerHooks, notices: UserNoticeDelivery): BrokerHooks {
  return {
    ...hooks,
    async subscribed(deviceId, kind, status) {
      await hooks.subscribed(deviceId, kind, status);
      if (kind === "cmd") await notices.subscribed(deviceId);
    },
    async jobStatus(deviceId, jobId, report) {
      if (await notices.jobStatus(deviceId, jobId, report)) return;
      return hooks.jobStatus(deviceId, jobId, report);
    },
  };
}
