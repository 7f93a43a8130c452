/**
 * The CRA Art. 14(8) notice to users, delivered in-band: the server sends it in a signed envelope
 * (`signed.ts`) on the device's `cmd` topic, to every device of the product running an affected
 * version; the device shows it to its user (the agent runs its notification hook) and acknowledges
 * it on `jobs/{noticeId}/status`. Re-sent on each reconnect until acknowledged; a device that sees
 * a notice again acknowledges it again without notifying twice.
 */
export const NOTICE_SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type NoticeSeverity = (typeof NOTICE_SEVERITIES)[number];

/** Server → device on `cmd`, signed. */
export interface UserNoticeCommand {
  type: "user-notice";
  deviceId: string;
  /** The job id the device acknowledges under (`jobs/{noticeId}/status`). */
  noticeId: string;
  /** The Article 14 event it is about. */
  eventId: string;
  kind: "vulnerability" | "incident";
  vulnerability: string | null;
  title: string;
  /** What happened and the risk (CRA Art. 14(8): the vulnerability or incident). */
  text: string;
  severity: NoticeSeverity;
  /** What the user should do (Art. 14(8): risk-mitigation and corrective measures). */
  action: string;
  /** The machine-readable advisories (CSAF 2.0) covering it. */
  advisoryUrls: string[];
  /** The version the device was found running, if it reported one. */
  affectedVersion: string | null;
  issuedAt: number;
}

/** What the agent did to tell its user: ran its hook (exit 0), the hook failed, or it has none. */
export const NOTICE_HOOK_OUTCOMES = ["ran", "failed", "none"] as const;
export type NoticeHookOutcome = (typeof NOTICE_HOOK_OUTCOMES)[number];

/** Device → server on `jobs/{noticeId}/status`. */
export interface UserNoticeAck {
  state: "notice-acknowledged";
  noticeId: string;
  hook: NoticeHookOutcome;
}

export const MAX_NOTICE_TITLE = 300;
export const MAX_NOTICE_TEXT = 4000;
export const MAX_NOTICE_ACTION = 2000;
export const MAX_NOTICE_ADVISORIES = 10;

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
const UUID = /^[0-9a-f-]{36}$/;
const VULN = /^[A-Za-z0-9._:-]{1,64}$/;

/** Text for a person: bounded, no control characters but line breaks (it reaches a hook's environment). */
export function isNoticeText(v: unknown, max: number): v is string {
  if (typeof v !== "string" || v.length === 0 || v.length > max) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f) return false;
  }
  return true;
}

function isAdvisoryUrl(v: unknown): v is string {
  if (typeof v !== "string" || v.length > 2048) return false;
  try {
    const url = new URL(v);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
  } catch {
    return false;
  }
}

export function isUserNoticeCommand(v: unknown): v is UserNoticeCommand {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return (
    c.type === "user-notice" &&
    typeof c.deviceId === "string" &&
    UUID.test(c.deviceId) &&
    typeof c.noticeId === "string" &&
    JOB_ID.test(c.noticeId) &&
    typeof c.eventId === "string" &&
    UUID.test(c.eventId) &&
    (c.kind === "vulnerability" || c.kind === "incident") &&
    (c.vulnerability === null || (typeof c.vulnerability === "string" && VULN.test(c.vulnerability))) &&
    isNoticeText(c.title, MAX_NOTICE_TITLE) &&
    isNoticeText(c.text, MAX_NOTICE_TEXT) &&
    (NOTICE_SEVERITIES as readonly unknown[]).includes(c.severity) &&
    isNoticeText(c.action, MAX_NOTICE_ACTION) &&
    Array.isArray(c.advisoryUrls) &&
    c.advisoryUrls.length <= MAX_NOTICE_ADVISORIES &&
    c.advisoryUrls.every(isAdvisoryUrl) &&
    (c.affectedVersion === null || isNoticeText(c.affectedVersion, 128)) &&
    typeof c.issuedAt === "number" &&
    Number.isSafeInteger(c.issuedAt)
  );
}

export function isUserNoticeAck(v: unknown, noticeId: string): v is UserNoticeAck {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const a = v as Record<string, unknown>;
  return (
    a.state === "notice-acknowledged" &&
    a.noticeId === noticeId &&
    (NOTICE_HOOK_OUTCOMES as readonly unknown[]).includes(a.hook)
  );
}
