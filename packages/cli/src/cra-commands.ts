import { parseArgs } from "node:util";
import { type ApiClient, CliError } from "./client.ts";
import type { Io } from "./commands.ts";
import { table } from "./table.ts";

/** `bulwark cra …`: the CRA compliance domain (issue #16) over the HTTP API. */
type Command = (args: string[], api: () => Promise<ApiClient>, io: Io) => Promise<number>;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const path = (...parts: string[]) => parts.map(encodeURIComponent).join("/");

interface Matrix {
  productName: string;
  evaluatedAt: string;
  summary: Record<string, number>;
  requirements: { id: string; status: string; reason: string }[];
}

const matrix: Command = async (args, api, io) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new CliError("cra matrix needs PRODUCT_ID [--json]", 2);
  const m = await (await api()).call<Matrix>("GET", `/api/v1/products/${path(positionals[0]!)}/annex-i`);
  if (values.json) {
    io.stdout(json(m));
    return 0;
  }
  io.stdout(`Annex I matrix of ${m.productName} at ${m.evaluatedAt}\n`);
  io.stdout(
    `${table(
      ["requirement", "status", "reason"],
      m.requirements.map((r) => [r.id, r.status, r.reason]),
    )}\n`,
  );
  const s = m.summary;
  io.stdout(
    `${s.met} met, ${s["partly-met"]} partly met, ${s["not-met"]} not met, ${s["not-applicable"]} not applicable\n`,
  );
  return 0;
};

export const CRA_COMMANDS: Record<string, Command> = {
  "cra matrix": matrix,
};
