import { createHash } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { httpsRequest } from "@bulwark/sdk/https";
import * as client from "openid-client";
import { putSetting } from "../audit/checkpoints.ts";
import type { Queryable } from "../store/store.ts";
import type { Role } from "./permissions.ts";
import type { SecretBox } from "./secret-box.ts";

/**
 * OpenID Connect sign-in (OpenID Connect Core 1.0 §3.1, authorization code flow) with PKCE
 * (RFC 7636, S256), state and nonce, through `openid-client`; the provider's groups map to roles.
 * Settings live in the database (the client secret sealed), set by an administrator.
 */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  redirectUri: string;
  scopes: string;
  groupsClaim: string;
  /** Ordered: the first mapping whose group the user is in gives the role. */
  groupRoles: { group: string; role: Role }[];
  /** Extra trust anchor (PEM) for a provider with a private CA. */
  caPem: string | null;
}

interface StoredSettings extends OidcSettings {
  clientSecretSealed: string;
}

const SETTING = "access.oidc";
const SECRET_CONTEXT = "oidc-client-secret";
const LOGIN_TTL_MS = 10 * 60 * 1000;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function stored(db: Queryable): Promise<StoredSettings | undefined> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  return row ? (JSON.parse(row.value) as StoredSettings) : undefined;
}

export async function oidcSettings(db: Queryable): Promise<OidcSettings | undefined> {
  const settings = await stored(db);
  if (!settings) return undefined;
  const { clientSecretSealed: _secret, ...visible } = settings;
  return visible;
}

export async function saveOidcSettings(
  db: Queryable,
  box: SecretBox,
  settings: OidcSettings & { clientSecret: string },
): Promise<void> {
  const { clientSecret, ...rest } = settings;
  const value: StoredSettings = { ...rest, clientSecretSealed: box.seal(clientSecret, SECRET_CONTEXT) };
  await putSetting(db, SETTING, JSON.stringify(value));
}

/** openid-client's HTTP through our TLS 1.3 client, trusting the configured CA if any. */
function fetchThrough(caPem: string | null): client.CustomFetch {
  return async (url, options) => {
    const headers: Record<string, string> = {};
    new Headers(options.headers as HeadersInit).forEach((value, name) => {
      headers[name] = value;
    });
    const body = options.body == null ? undefined : String(options.body);
    const res = await httpsRequest({
      url,
      method: options.method,
      headers,
      body,
      ca: caPem ?? undefined,
      timeoutMs: 10_000,
      maxResponseBytes: 1024 * 1024,
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers))
      if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
    return new Response(res.status === 204 ? null : new Uint8Array(res.body), {
      status: res.status,
      headers: responseHeaders,
    });
  };
}

async function discover(db: Queryable, box: SecretBox) {
  const settings = await stored(db);
  if (!settings) throw new BulwarkError("BW_ERR_NOT_FOUND", "OpenID Connect sign-in is not configured");
  const config = await client.discovery(
    new URL(settings.issuer),
    settings.clientId,
    undefined,
    client.ClientSecretBasic(box.open(settings.clientSecretSealed, SECRET_CONTEXT)),
    { [client.customFetch]: fetchThrough(settings.caPem) },
  );
  return { settings, config };
}

/**
 * Step 1: a fresh state, nonce and PKCE verifier (sealed, single use, with the console page to
 * return to, already validated) and the provider URL.
 */
export async function beginOidcLogin(db: Queryable, box: SecretBox, returnTo?: string): Promise<URL> {
  const { settings, config } = await discover(db, box);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const verifier = client.randomPKCECodeVerifier();
  const stateHash = sha256(state);
  await db.run(`DELETE FROM oidc_logins WHERE expires_at < ?`, [Date.now()]);
  await db.run(`INSERT INTO oidc_logins (state_hash, sealed, expires_at) VALUES (?, ?, ?)`, [
    stateHash,
    box.seal(JSON.stringify({ nonce, verifier, returnTo }), `oidc-login|${stateHash}`),
    Date.now() + LOGIN_TTL_MS,
  ]);
  return client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirectUri,
    scope: settings.scopes,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
}

export interface OidcIdentity {
  subject: string;
  username: string;
  groups: string[];
  role: Role | undefined;
}

/**
 * Step 2: the callback: state checked and burnt, code exchanged with the verifier, groups mapped;
 * with the return path stored at step 1.
 */
export async function completeOidcLogin(
  db: Queryable,
  box: SecretBox,
  query: string,
): Promise<{ identity: OidcIdentity; returnTo: string | undefined }> {
  const params = new URLSearchParams(query);
  const state = params.get("state") ?? "";
  const stateHash = sha256(state);
  const row = await db.get<{ sealed: string; expires_at: number }>(
    `SELECT sealed, expires_at FROM oidc_logins WHERE state_hash = ?`,
    [stateHash],
  );
  // Single use: of parallel callbacks carrying one state, only the one whose delete took the row
  // goes on (the read alone would let each of them through).
  const { changes } = await db.run(`DELETE FROM oidc_logins WHERE state_hash = ?`, [stateHash]);
  if (!row || changes !== 1 || Number(row.expires_at) < Date.now())
    throw new BulwarkError(
      "BW_ERR_UNAUTHENTICATED",
      "the sign-in request is unknown or expired; start again",
    );
  const { nonce, verifier, returnTo } = JSON.parse(box.open(row.sealed, `oidc-login|${stateHash}`)) as {
    nonce: string;
    verifier: string;
    returnTo?: string;
  };
  const { settings, config } = await discover(db, box);
  const current = new URL(settings.redirectUri);
  current.search = params.toString();
  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
  } catch (error) {
    throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "the OpenID provider refused the sign-in", {
      cause: error,
    });
  }
  const claims = tokens.claims()!;
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const raw = info[settings.groupsClaim] ?? claims[settings.groupsClaim];
  const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === "string") : [];
  const username = String(info.preferred_username ?? claims.preferred_username ?? `oidc-${claims.sub}`)
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, "-")
    .slice(0, 63);
  const identity = {
    subject: `${settings.issuer}|${claims.sub}`,
    username,
    groups,
    role: settings.groupRoles.find((m) => groups.includes(m.group))?.role,
  };
  return { identity, returnTo };
}
