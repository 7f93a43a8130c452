import { base32Decode, totpAt } from "../packages/server/src/access/totp.ts";
import type { TestServer } from "./helpers.ts";

export const SESSION_COOKIE = "__Host-bulwark-session";

/** A cookie-holding client, as a browser is: session cookie plus the CSRF token for changes. */
export class Browser {
  cookie: string | undefined;
  csrf: string | undefined;
  readonly server: TestServer;

  constructor(server: TestServer) {
    this.server = server;
  }

  async signIn(username: string, password: string, extra: Record<string, string> = {}) {
    const res = await this.call<{ csrfToken: string; mustChangePassword: boolean; code?: string }>(
      "POST",
      "/api/v1/sessions",
      { username, password, ...extra },
    );
    if (res.status === 201) this.csrf = res.body.csrfToken;
    return res;
  }

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const res = await this.server.api<T>(method, path, body, {
      authorization: "",
      ...(this.cookie ? { cookie: `${SESSION_COOKIE}=${this.cookie}` } : {}),
      ...(this.csrf ? { "x-csrf-token": this.csrf } : {}),
      ...headers,
    });
    const set = ([] as string[]).concat((res.headers["set-cookie"] as string[] | undefined) ?? []);
    for (const line of set) {
      const match = new RegExp(`^${SESSION_COOKIE}=([^;]*)`).exec(line);
      if (match) this.cookie = match[1] || undefined;
    }
    return res;
  }
}

/** The current TOTP code for a base32 seed, or the one of the next time step (to avoid replay). */
export const totpCode = (secret: string, stepOffset = 0): string =>
  totpAt(base32Decode(secret), Date.now() + stepOffset * 30_000);

/** Signs the first-run admin in, changes the password and enrols TOTP; returns the seed. */
export async function prepareAdmin(server: TestServer, newPassword = "correct horse battery staple") {
  const browser = new Browser(server);
  await browser.signIn("admin", server.firstRun!.adminPassword);
  await browser.call("POST", "/api/v1/me/password", {
    currentPassword: server.firstRun!.adminPassword,
    newPassword,
  });
  const enrol = await browser.call<{ secret: string }>("POST", "/api/v1/me/totp");
  const confirm = await browser.call<{ recoveryCodes: string[] }>("POST", "/api/v1/me/totp/confirm", {
    code: totpCode(enrol.body.secret),
  });
  return {
    browser,
    secret: enrol.body.secret,
    recoveryCodes: confirm.body.recoveryCodes,
    password: newPassword,
  };
}
