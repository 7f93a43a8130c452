import { WEBHOOK_EVENTS } from "./webhooks.ts";

const NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/**
 * The events a webhook can subscribe to: the software domain's own finding events, plus those a
 * domain above adds at composition time (`startup/`), e.g. CRA Article 14 reminders. The software
 * domain never needs to know them: it only queues and delivers what it is handed, signed alike.
 */
export class WebhookEventRegistry {
  readonly #names = new Set<string>(WEBHOOK_EVENTS);

  /** Adds event names (dotted lowercase, e.g. `cra.report.reminder`); adding one twice is harmless. */
  register(...names: string[]): void {
    for (const name of names) {
      if (!NAME.test(name) || name.length > 64) throw new Error(`not a webhook event name: ${name}`);
      this.#names.add(name);
    }
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** Every registered name, in registration order (the built-in ones first). */
  list(): string[] {
    return [...this.#names];
  }
}
