import { readFileSync } from "node:fs";
import { decimalNumber, parse } from "./args.ts";
import { CliError } from "./client.ts";
import type { Command } from "./commands.ts";
import { table } from "./table.ts";

// RFC 5280 §5.3.1 reasons the server accepts.
const REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "aACompromise",
];

interface Certificate {
  serial: string;
  kind: string;
  ca: { name: string };
  deviceId: string | null;
  subject: string;
  notAfter: string;
  status: string;
  revocationReason: string | null;
}

const certRevoke: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { reason: { type: "string" } }, { max: 1 });
  const [serial] = positionals;
  if (!serial || !/^[0-9a-fA-F:]{2,60}$/.test(serial))
    throw new CliError("cert revoke needs a SERIAL (hex)", 2);
  const reason = values.reason ?? "unspecified";
  if (!REASONS.includes(reason)) throw new CliError(`--reason must be one of ${REASONS.join(", ")}`, 2);
  const revoked = await (await api()).call<{ serial: string; revokedAt: string; alsoRevoked?: string[] }>(
    "POST",
    `/api/v1/certificates/${serial.replace(/:/g, "").toLowerCase()}/revoke`,
    { reason },
  );
  io.stdout(`revoked ${revoked.serial} (${reason}) at ${revoked.revokedAt}\n`);
  // keyCompromise also revokes the certificates renewed from it.
  for (const serial of revoked.alsoRevoked ?? [])
    io.stdout(`revoked ${serial} (${reason}): renewed from it\n`);
  return 0;
};

const certList: Command = async (args, api, io) => {
  const { values } = parse(args, {
    device: { type: "string" },
    status: { type: "string" },
    kind: { type: "string" },
    json: { type: "boolean" },
  });
  const query = new URLSearchParams({ limit: "1000" });
  if (values.device) query.set("device", values.device);
  if (values.status) query.set("status", values.status);
  if (values.kind && !["device", "operator", "service"].includes(values.kind))
    throw new CliError("--kind must be device, operator or service", 2);
  if (values.kind) query.set("kind", values.kind);
  const page = await (await api()).call<{ items: Certificate[] }>("GET", `/api/v1/certificates?${query}`);
  if (values.json) io.stdout(`${JSON.stringify(page)}\n`);
  else
    io.stdout(
      `${table(
        ["SERIAL", "CA", "DEVICE", "STATUS", "REASON", "NOT AFTER", "KIND"],
        page.items.map((c) => [
          c.serial,
          c.ca.name,
          c.deviceId ?? c.subject,
          c.status,
          c.revocationReason ?? "-",
          c.notAfter,
          c.kind,
        ]),
      )}\n`,
    );
  return 0;
};

const caList: Command = async (args, api, io) => {
  const { values } = parse(args, { json: { type: "boolean" } });
  const page = await (await api()).call<{
    items: {
      id: string;
      name: string;
      role: string;
      algorithm: string;
      offline: boolean;
      notAfter: string;
    }[];
  }>("GET", "/api/v1/cas");
  if (values.json) io.stdout(`${JSON.stringify(page)}\n`);
  else
    io.stdout(
      `${table(
        ["ID", "NAME", "ROLE", "ALGORITHM", "KEY", "NOT AFTER"],
        page.items.map((c) => [
          c.id,
          c.name,
          c.role,
          c.algorithm,
          c.offline ? "offline" : "custody",
          c.notAfter,
        ]),
      )}\n`,
    );
  return 0;
};

const caCreate: Command = async (args, api, io) => {
  const { values } = parse(args, {
    name: { type: "string" },
    role: { type: "string" },
    algorithm: { type: "string" },
    parent: { type: "string" },
  });
  if (!values.name || !values.algorithm || (values.role !== "root" && values.role !== "device"))
    throw new CliError("ca create needs --name, --role root|device, --algorithm [--parent ROOT]", 2);
  const ca = await (await api()).call<{ id: string }>("POST", "/api/v1/cas", {
    name: values.name,
    role: values.role,
    algorithm: values.algorithm,
    ...(values.parent ? { parent: values.parent } : {}),
  });
  io.stdout(`${ca.id}\n`);
  return 0;
};

/** Offline root, step 1: prints the request id, then the PKCS#10 of a new issuing-CA key held in custody. */
const caRequest: Command = async (args, api, io) => {
  const { values } = parse(args, { name: { type: "string" }, algorithm: { type: "string" } });
  if (!values.name || !values.algorithm) throw new CliError("ca request needs --name and --algorithm", 2);
  const req = await (await api()).call<{ id: string; csrPem: string }>("POST", "/api/v1/ca-requests", {
    name: values.name,
    algorithm: values.algorithm,
  });
  io.stdout(`${req.id}\n${req.csrPem}`);
  return 0;
};

/** Offline root, step 2: imports the signed issuing-CA certificate and its root. */
const caImport: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    { cert: { type: "string" }, root: { type: "string" } },
    { max: 1 },
  );
  const [id] = positionals;
  if (!id || !values.cert || !values.root)
    throw new CliError("ca import needs REQUEST_ID --cert FILE --root FILE", 2);
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      throw new CliError(`cannot read ${path}`, 2);
    }
  };
  const ca = await (await api()).call<{ id: string; name: string }>(
    "POST",
    `/api/v1/ca-requests/${id}/import`,
    {
      certificatePem: read(values.cert),
      rootPem: read(values.root),
    },
  );
  io.stdout(`${ca.id} ${ca.name}\n`);
  return 0;
};

const list = (value: string | undefined) =>
  value
    ?.split(",")
    .map((v) => v.trim())
    .filter(Boolean);

const policySet: Command = async (args, api, io) => {
  const { values, positionals } = parse(
    args,
    {
      "key-algorithms": { type: "string" },
      "validity-days": { type: "string" },
      "renewal-window-days": { type: "string" },
      methods: { type: "string" },
      "issuing-ca": { type: "string" },
    },
    { max: 1 },
  );
  const [group] = positionals;
  if (!group || !values["key-algorithms"] || !values["validity-days"])
    throw new CliError("policy set needs GROUP --key-algorithms A,B --validity-days N", 2);
  const policy = {
    keyAlgorithms: list(values["key-algorithms"]),
    validityDays: decimalNumber(values["validity-days"], "--validity-days"),
    ...(values["renewal-window-days"]
      ? { renewalWindowDays: decimalNumber(values["renewal-window-days"], "--renewal-window-days") }
      : {}),
    ...(values.methods ? { methods: list(values.methods) } : {}),
    ...(values["issuing-ca"] ? { issuingCa: values["issuing-ca"] } : {}),
  };
  await (await api()).call("PUT", `/api/v1/groups/${encodeURIComponent(group)}/provisioning-policy`, policy);
  io.stdout(`policy of ${group} updated\n`);
  return 0;
};

/** Pre-registers a hardware serial number; prints the bootstrap secret (once). */
const serialRegister: Command = async (args, api, io) => {
  const { values, positionals } = parse(args, { secret: { type: "string" } }, { max: 2 });
  const [group, serialNumber] = positionals;
  if (!group || !serialNumber) throw new CliError("serial register needs GROUP SERIAL [--secret S]", 2);
  const registered = await (await api()).call<{ secret: string }>(
    "POST",
    `/api/v1/groups/${encodeURIComponent(group)}/registered-devices`,
    { serialNumber, ...(values.secret ? { secret: values.secret } : {}) },
  );
  io.stdout(`${registered.secret}\n`);
  return 0;
};

export const PKI_COMMANDS: Record<string, Command> = {
  "cert revoke": certRevoke,
  "cert list": certList,
  "ca list": caList,
  "ca create": caCreate,
  "ca request": caRequest,
  "ca import": caImport,
  "policy set": policySet,
  "serial register": serialRegister,
};
