/**
 * `npm run bench -- NAME [args]`: runs `bench/NAME.ts`, whose exported `run(args)` measures a
 * figure and its peer or limit in the same run and ends with one JSON line:
 * {"bench","metric","value","unit","peer","peer_value","ratio","goal","met"}.
 */
import { readdirSync } from "node:fs";

const [name, ...args] = process.argv.slice(2);
const available = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3));

if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME\navailable: ${available.join(", ") || "(none yet)"}\n`);
  process.exitCode = 2;
} else {
  const module = (await import(new URL(`./${name}.ts`, import.meta.url).href)) as {
    run: (args: string[]) => Promise<void>;
  };
  await module.run(args);
}
