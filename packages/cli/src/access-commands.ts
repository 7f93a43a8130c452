import { createPublicKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { verifyExport } from "@bulwark/sdk/audit/chain";
import { toPem } from "@bulwark/sdk/pem";
import { generateKeyPair } from "@bulwark/sdk/x509/algorithms";
import { buildCsr } from "@bulwark/sdk/x509/csr";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { onlyPositionals, parse, wholeNumber } from "./args.ts";
import { type ApiClient, CliError, problemError, problemMessage } from "./client.ts";
import type { Command, Io } from "./commands.ts";
import { table } from "./table.ts";

type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

const SESSION_COOKIE = "__Host-bulwark-session";

/**
 * Sign-in helper: a session from BULWARK_USERNAME / BULWARK_PASSWORD (+ BULWARK_TOTP_CODE or
 * BULWARK_RECOVERY_CODE), used for `fn` with its CSRF token, then signed out.
 */
async function withSession<T>(
  client: ApiClient,
  env: NodeJS.ProcessEnv,
  fn: (call: Call) => Promise<T>,
): Promise<T> {
  if (!env.BULWARK_USERNAME || !env.BULWARK_PASSWORD)
    throw new CliError("set BULWARK_USERNAME and BULWARK_PASSWORD", 2);
  const signIn = await client.send("POST", "/api/v1/sessions", {
    body: {
      username: env.BULWARK_USERNAME,
      password: env.BULWARK_PASSWORD,
      ...(env.BULWARK_TOTP_CODE ? { code: env.BULWARK_TOTP_CODE } : {}),
      ...(env.BULWARK_RECOVERY_CODE ? { recoveryCode: env.BULWARK_RECOVERY_CODE } : {}),
    },
  });
  if (signIn.status !== 201)
    throw new CliError(`sign-in refused: ${problemMessage(signIn.status, signIn.text)}`);
  const cookie = ([] as string[])
    .concat(signIn.headers["set-cookie"] ?? [])
    .map((line) => line.split(";")[0]!)
    .find((pair) => pair.startsWith(`${SESSION_COOKIE}=`));
  const headers = {
    cookie: cookie ?? "",
    "x-csrf-token": (JSON.parse(signIn.text) as { csrfToken: string }).csrfToken,
  };
  const call: Call = async <R>(method: string, path: string, body?: unknown) => {
    const res = await client.send(method, path, { body, headers });
    if (res.status >= 400) throw problemError(res.status, res.text);
    return (res.text ? JSON.parse(res.text) : undefined) as R;
  };
  try {
    return await fn(call);
  } finally {
    await client.send("DELETE", "/api/v1/sessions/current", { headers });
  }
}

/** An API key or client certificate when configured, else a password session. */
async function caller<T>(
  api: () => Promise<ApiClient>,
  env: NodeJS.ProcessEnv,
  fn: (call: Call) => Promise<T>,
) {
  const client = await api();
  if (env.BULWARK_API_KEY || env.BULWARK_CLIENT_CERT)
    return fn(<R>(method: string, path: string, body?: unknown) => client.call<R>(method, path, body));
  return withSession(client, env, fn);
}

const out = (io: Io, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);

const passwordChange: Command = async (args, api, io) => {
  onlyPositionals(args, 0);
  if (!io.env.BULWARK_NEW_PASSWORD) throw new CliError("set BULWARK_NEW_PASSWORD", 2);
  await withSession(await api(), io.env, (call) =>
    call("POST", "/api/v1/me/password", {
      currentPassword: io.env.BULWARK_PASSWORD,
      newPassword: io.env.BULWARK_NEW_PASSWORD,
    }),
  );
  io.stdout("password changed\n");
  return 0;
};

const totpEnrol: Command = async (args, api, io) => {
  onlyPositionals(args, 0);
  const started = await withSession(await api(), io.env, (call) =>
    call<{ secret: string; otpauthUri: string }>("POST", "/api/v1/me/totp"),
  );
  io.stdout(`${started.otpauthUri}\nsecret: ${started.secret}\nconfirm with: bulwark totp confirm CODE\n`);
  return 0;
};

const totpConfirm: Command = async (args, api, io) => {
  const [code] = onlyPositionals(args, 1);
  if (!code) throw new CliError("totp confirm needs the CODE from the authenticator", 2);
  const done = await withSession(await api(), io.env, (call) =>
    call<{ recoveryCodes: string[] }>("POST", "/api/v1/me/totp/confirm", { code }),
  );
  io.stdout(
    `second factor active; recovery codes (shown once, each works once):\n${done.recoveryCodes.join("\n")}\n`,
  );
  return 0;
};

const apiKeyCreate: Command = async (args, api, io) => {
  const { values } = parse(args, {
    name: { type: "string" },
    role: { type: "string" },
    permissions: { type: "string" },
    "expires-in-days": { type: "string" },
  });
  if (!values.name) throw new CliError("api-key create needs --name", 2);
  const body = {
    name: values.name,
    ...(values.role ? { role: values.role } : {}),
    ...(values.permissions ? { permissions: values.permissions.split(",").map((p) => p.trim()) } : {}),
    ...(values["expires-in-days"]
      ? { expiresInDays: wholeNumber(values["expires-in-days"], "--expires-in-days") }
      : {}),
  };
  const created = await caller(api, io.env, (call) =>
    call<{ key: string }>("POST", "/api/v1/api-keys", body),
  );
  io.stdout(`${created.key}\n`);
  return 0;
};

const apiKeyList: Command = async (args, api, io) => {
  const { values } = parse(args, { json: { type: "boolean" } });
  const keys = await caller(api, io.env, (call) =>
    call<{
      items: {
        prefix: string;
        name: string;
        permissions: string[];
        expiresAt: string | null;
        lastUsedAt: string | null;
        revokedAt: string | null;
      }[];
    }>("GET", "/api/v1/api-keys"),
  );
  if (values.json) {
    io.stdout(`${JSON.stringify(keys)}\n`);
    return 0;
  }
  io.stdout(
    `${table(
      ["PREFIX", "NAME", "PERMISSIONS", "EXPIRES", "LAST USED", "REVOKED"],
      keys.items.map((k) => [
        k.prefix,
        k.name,
        String(k.permissions.length),
        k.expiresAt ?? "-",
        k.lastUsedAt ?? "-",
        k.revokedAt ?? "-",
      ]),
    )}\n`,
  );
  return 0;
};

const apiKeyRevoke: Command = async (args, api, io) => {
  const id = onlyPositionals(args, 1)[0]?.replace(/^bwk_/, "").slice(0, 12);
  if (!id) throw new CliError("api-key revoke needs an ID or prefix", 2);
  await caller(api, io.env, (call) => call("DELETE", `/api/v1/api-keys/${id}`));
  io.stdout("revoked\n");
  return 0;
};

interface SessionView {
  id: string;
  via: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  remoteAddress: string | null;
}

const sessionList: Command = async (args, api, io) => {
  const { values } = parse(args, { json: { type: "boolean" } });
  const sessions = await caller(api, io.env, (call) =>
    call<{ items: SessionView[] }>("GET", "/api/v1/sessions"),
  );
  if (values.json) {
    io.stdout(`${JSON.stringify(sessions)}\n`);
    return 0;
  }
  io.stdout(
    `${table(
      ["SESSION", "VIA", "FROM", "CREATED", "LAST SEEN", "EXPIRES"],
      sessions.items.map((x) => [
        x.id,
        x.via,
        x.remoteAddress ?? "-",
        x.createdAt,
        x.lastSeenAt,
        x.expiresAt,
      ]),
    )}\n`,
  );
  return 0;
};

const sessionRevoke: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    { all: { type: "boolean" }, user: { type: "string" } },
    { max: 1 },
  );
  const path = values.user
    ? `/api/v1/users/${encodeURIComponent(values.user)}/sessions`
    : values.all
      ? "/api/v1/sessions"
      : positionals[0]
        ? `/api/v1/sessions/${encodeURIComponent(positionals[0])}`
        : undefined;
  if (!path) throw new CliError("session revoke needs an ID, --all or --user ID", 2);
  await caller(api, io.env, (call) => call("DELETE", path));
  io.stdout("revoked\n");
  return 0;
};

const userList: Command = async (args, api, io) => {
  const { values } = parse(args, { json: { type: "boolean" } });
  const users = await caller(api, io.env, (call) =>
    call<{ items: { id: string; username: string; role: string | null; totpEnabled: boolean }[] }>(
      "GET",
      "/api/v1/users",
    ),
  );
  if (values.json) {
    io.stdout(`${JSON.stringify(users)}\n`);
    return 0;
  }
  io.stdout(
    `${table(
      ["USER", "ID", "ROLE", "2FA"],
      users.items.map((u) => [u.username, u.id, u.role ?? "-", u.totpEnabled ? "on" : "off"]),
    )}\n`,
  );
  return 0;
};

const userCreate: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { role: { type: "string" } }, { max: 1 });
  if (!positionals[0]) throw new CliError("user create needs a NAME", 2);
  const created = await caller(api, io.env, (call) =>
    call<{ id: string; oneTimePassword: string }>("POST", "/api/v1/users", {
      username: positionals[0],
      role: values.role ?? null,
    }),
  );
  io.stdout(`${created.id}\none-time password (shown once): ${created.oneTimePassword}\n`);
  return 0;
};

const userRole: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { product: { type: "string" } }, { max: 2 });
  const [id, role] = positionals;
  if (!id || !role) throw new CliError("user role needs ID ROLE [--product PRODUCT_ID]", 2);
  const result = await caller(api, io.env, (call) =>
    values.product
      ? call("POST", `/api/v1/users/${id}/role-assignments`, { role, productId: values.product })
      : call("PUT", `/api/v1/users/${id}/role`, { role: role === "none" ? null : role }),
  );
  out(io, result);
  return 0;
};

/** Generates the key here (it never leaves this machine), sends a CSR, writes key (0600) and certificate. */
const operatorCertIssue: Command = async (args, api, io) => {
  const { values } = parse(args, {
    "out-dir": { type: "string" },
    user: { type: "string" },
    days: { type: "string" },
  });
  if (!values["out-dir"]) throw new CliError("operator-cert issue needs --out-dir DIR", 2);
  const keys = generateKeyPair("ecdsa-p256");
  const csr = buildCsr({ subjectDer: commonNameOnly("operator"), algorithm: "ecdsa-p256", ...keys });
  const issued = await caller(api, io.env, (call) =>
    call<{ serial: string; chainPem: string }>("POST", "/api/v1/operator-certificates", {
      csr: toPem("CERTIFICATE REQUEST", csr),
      ...(values.user ? { userId: values.user } : {}),
      ...(values.days ? { validityDays: wholeNumber(values.days, "--days") } : {}),
    }),
  );
  const dir = values["out-dir"];
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, "operator.key.pem"),
    keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    { mode: 0o600 },
  );
  writeFileSync(join(dir, "operator.cert.pem"), issued.chainPem);
  io.stdout(
    `${issued.serial}\nuse: BULWARK_CLIENT_CERT=${join(dir, "operator.cert.pem")} BULWARK_CLIENT_KEY=${join(dir, "operator.key.pem")}\n`,
  );
  return 0;
};

const operatorCertRevoke: Command = async (args, api, io) => {
  const [serial] = onlyPositionals(args, 1);
  if (!serial) throw new CliError("operator-cert revoke needs a SERIAL", 2);
  await caller(api, io.env, (call) =>
    call("DELETE", `/api/v1/operator-certificates/${encodeURIComponent(serial.toLowerCase())}`),
  );
  io.stdout("revoked\n");
  return 0;
};

async function download(client: ApiClient, env: NodeJS.ProcessEnv, path: string): Promise<string> {
  const headers = env.BULWARK_API_KEY ? { authorization: `Bearer ${env.BULWARK_API_KEY}` } : undefined;
  const res = await client.send("GET", path, { headers });
  if (res.status >= 400) throw problemError(res.status, res.text);
  return res.text;
}

const auditExport: Command = async (args, api, io) => {
  const { values } = parse(args, { out: { type: "string" } });
  const text = await download(await api(), io.env, "/api/v1/audit/export");
  if (values.out) writeFileSync(values.out, text);
  else io.stdout(text);
  return 0;
};

/**
 * Offline with --file and --public-key (an export and the checkpoint public key kept apart from
 * the server); else downloads both and verifies here, and shows the server's own verdict.
 */
const auditVerify: Command = async (args, api, io) => {
  const { values } = parse(args, {
    file: { type: "string" },
    "public-key": { type: "string" },
    json: { type: "boolean" },
  });
  let lines: string;
  let keyPem: string;
  if (values.file) {
    if (!values["public-key"]) throw new CliError("offline verification needs --public-key PEM too", 2);
    lines = readFileSync(values.file, "utf8");
    keyPem = readFileSync(values["public-key"], "utf8");
  } else {
    const client = await api();
    keyPem = values["public-key"]
      ? readFileSync(values["public-key"], "utf8")
      : await download(client, io.env, "/api/v1/audit/checkpoint-key");
    lines = await download(client, io.env, "/api/v1/audit/export");
  }
  let result: ReturnType<typeof verifyExport>;
  try {
    result = verifyExport(lines.split("\n"), createPublicKey(keyPem));
  } catch (error) {
    throw new CliError(`the export cannot be read: ${(error as Error).message}`);
  }
  if (values.json) io.stdout(`${JSON.stringify({ ok: !result.problem, ...result })}\n`);
  else if (result.problem)
    io.stdout(
      `FAILED at entry ${result.problem.seq}: ${result.problem.problem} (${result.entries} entries verified before it)\n`,
    );
  else
    io.stdout(
      `ok: entries ${result.firstSeq}..${result.lastSeq} (${result.entries}) chained, ${result.checkpoints} signed checkpoint(s) verified\n`,
    );
  return result.problem ? 1 : 0;
};

const auditKey: Command = async (args, api, io) => {
  onlyPositionals(args, 0);
  io.stdout(await download(await api(), io.env, "/api/v1/audit/checkpoint-key"));
  return 0;
};

export const ACCESS_COMMANDS: Record<string, Command> = {
  "password change": passwordChange,
  "totp enrol": totpEnrol,
  "totp confirm": totpConfirm,
  "api-key create": apiKeyCreate,
  "api-key list": apiKeyList,
  "api-key revoke": apiKeyRevoke,
  "session list": sessionList,
  "session revoke": sessionRevoke,
  "user list": userList,
  "user create": userCreate,
  "user role": userRole,
  "operator-cert issue": operatorCertIssue,
  "operator-cert revoke": operatorCertRevoke,
  "audit export": auditExport,
  "audit verify": auditVerify,
  "audit key": auditKey,
};
