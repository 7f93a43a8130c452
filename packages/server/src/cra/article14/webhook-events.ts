/**
 * Article 14 deadline events delivered through the platform's signed webhooks (besides the
 * notification): registered with the software domain's `WebhookEventRegistry` at composition time.
 * `cra.report.reminder`: a report stage is due within 6 hours; `cra.report.overdue`: it is past due.
 */
export const ARTICLE14_WEBHOOK_EVENTS = ["cra.report.reminder", "cra.report.overdue"] as const;
export type Article14WebhookEvent = (typeof ARTICLE14_WEBHOOK_EVENTS)[number];
