import { createHash } from "node:crypto";
import type { EncryptedStore } from "@bulwark/sdk/store";
import type { NoticeHookOutcome, UserNoticeAck, UserNoticeCommand } from "@bulwark/sdk/wire/user-notice";
import type { AgentLog } from "./log.ts";
import { runCommand } from "./updates/hooks.ts";
import { readSettings } from "./updates/settings.ts";

/** The record of a notice already shown: a re-sent notice is acknowledged again, not shown twice. */
const recordName = (noticeId: string) =>
  `notice-${createHash("sha256").update(noticeId).digest("hex").slice(0, 32)}`;

interface ShownNotice {
  noticeId: string;
  eventId: string;
  hook: NoticeHookOutcome;
  shownAt: number;
}

/**
 * CRA Art. 14(8): tells the device's user of an actively exploited vulnerability or a severe
 * incident and what to do. The agent has no screen: it runs the operator's notification hook (the
 * updates' `notifyHook` of `updates.json`, argv, no shell) with BULWARK_UPDATE_EVENT=security-notice
 * and the notice in BULWARK_NOTICE_* variables, then hands back the acknowledgement to publish.
 */
export async function showUserNotice(
  notice: UserNoticeCommand,
  ctx: { store: EncryptedStore; stateDir: string; log: AgentLog },
): Promise<UserNoticeAck> {
  const name = recordName(notice.noticeId);
  const shown = ctx.store.getJson<ShownNotice>("state", name);
  if (shown?.noticeId === notice.noticeId) {
    ctx.log.info("security notice already shown; acknowledged again", { noticeId: notice.noticeId });
    return { state: "notice-acknowledged", noticeId: notice.noticeId, hook: shown.hook };
  }
  ctx.log.warn("security notice", {
    noticeId: notice.noticeId,
    severity: notice.severity,
    title: notice.title,
    action: notice.action,
    advisories: notice.advisoryUrls,
  });
  const hook = readSettings(ctx.stateDir).notifyHook;
  let outcome: NoticeHookOutcome = "none";
  if (hook.length > 0) {
    const { code, output } = await runCommand(
      hook,
      {
        BULWARK_UPDATE_EVENT: "security-notice",
        BULWARK_NOTICE_ID: notice.noticeId,
        BULWARK_NOTICE_EVENT: notice.eventId,
        BULWARK_NOTICE_KIND: notice.kind,
        BULWARK_NOTICE_VULNERABILITY: notice.vulnerability ?? "",
        BULWARK_NOTICE_SEVERITY: notice.severity,
        BULWARK_NOTICE_TITLE: notice.title,
        BULWARK_NOTICE_TEXT: notice.text,
        BULWARK_NOTICE_ACTION: notice.action,
        BULWARK_NOTICE_ADVISORIES: notice.advisoryUrls.join(" "),
        BULWARK_NOTICE_VERSION: notice.affectedVersion ?? "",
      },
      60_000,
    );
    outcome = code === 0 ? "ran" : "failed";
    if (code !== 0) ctx.log.warn("notification hook failed", { noticeId: notice.noticeId, code, output });
  }
  ctx.store.putJson("state", name, {
    noticeId: notice.noticeId,
    eventId: notice.eventId,
    hook: outcome,
    shownAt: Date.now(),
  } satisfies ShownNotice);
  return { state: "notice-acknowledged", noticeId: notice.noticeId, hook: outcome };
}

/**
 * `showUserNotice` for a running agent. The server sends an unacknowledged notice again on every
 * connection, and the acknowledgement is an answer to it (not kept by the agent: a lost one is
 * given again on the next delivery, MQTT 3.1.1 §4.3.2). A notice already shown is answered from its
 * record, at the cost of one store read; one sent again while its hook is still running (the
 * connection dropped and came back meanwhile) waits for that run and shares its answer: the hook
 * runs once per notice. A restart between the hook and its record runs it again: a notice shown
 * twice is better than one acknowledged and never shown.
 */
export function noticeShower(ctx: {
  store: EncryptedStore;
  stateDir: string;
  log: AgentLog;
}): (notice: UserNoticeCommand) => Promise<UserNoticeAck> {
  const showing = new Map<string, Promise<UserNoticeAck>>();
  return (notice) => {
    const running = showing.get(notice.noticeId);
    if (running) {
      ctx.log.info("security notice sent again while it is shown; answered when it is", {
        noticeId: notice.noticeId,
      });
      return running;
    }
    const shown = showUserNotice(notice, ctx).finally(() => showing.delete(notice.noticeId));
    showing.set(notice.noticeId, shown);
    return shown;
  };
}
