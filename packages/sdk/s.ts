import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkMinimumElements } from "./src/software/sbom/minimum-elements.ts";
import { readSbomFile } from "./src/software/sbom/parse.ts";

function walk(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".json") ? [p] : [];
  });
}
for (const f of walk("/tmp/sbompeek").sort()) {
  try {
    const d = await readSbomFile(f);
    const r = checkMinimumElements(d);
    console.log(
      "OK",
      f.slice(14),
      d.format,
      d.specVersion,
      d.components.length,
      d.dependencies.length,
      d.components.filter((c) => c.ecosystem).length,
      r.ntiaConforms,
      r.gaps.length,
    );
  } catch (e) {
    console.log("ERR", f.slice(14), (e as Error).message.slice(0, 200));
  }
}
