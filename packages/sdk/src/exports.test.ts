import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SDK = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(SDK, "src");
const manifest = JSON.parse(readFileSync(join(SDK, "package.json"), "utf8")) as {
  exports: Record<string, string>;
};

/** The capability subpaths a device build picks from; each is a folder under src/. */
const CAPABILITIES = ["sign", "kem", "aead", "store", "tuf", "wire", "est"].filter(
  (c) => `./${c}` in manifest.exports,
);

/** Every module a fresh process loads when it imports `specifier` (a load hook records them). */
function modulesLoadedBy(specifier: string): string[] {
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
    await import(${JSON.stringify(specifier)});
    process.stdout.write(JSON.stringify(seen));`;
  // Run inside the package, so "@bulwark/sdk/..." resolves through its own "exports" (self-reference).
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: SDK,
    encoding: "utf8",
  });
  return (JSON.parse(out) as string[]).filter((u) => u.startsWith("file:")).map((u) => fileURLToPath(u));
}

/**
 * The third-party packages a capability may load, each named on purpose: /tuf encodes canonical
 * JSON with the encoder tuf-js verifies with (docs/dependencies.md). Any other package fails.
 */
const ALLOWED_PACKAGES: Record<string, string[]> = { tuf: ["@tufjs/canonical-json"] };

/** Loaded files that belong to another capability than `own`, or to a package it may not load. */
function foreign(own: string, files: string[]): string[] {
  const allowed = ALLOWED_PACKAGES[own] ?? [];
  return files.filter((file) => {
    if (file.includes("/node_modules/")) {
      return !allowed.some((name) => file.includes(`/node_modules/${name}/`));
    }
    const [top] = relative(SRC, file).split("/");
    return top !== own && CAPABILITIES.includes(top!);
  });
}

describe("@bulwark/sdk: capability subpaths", () => {
  it("exports /sign, /kem, /aead, /store, /wire and /est, each pointing at an existing index", () => {
    for (const c of ["sign", "kem", "aead", "store", "wire", "est"]) assert.ok(CAPABILITIES.includes(c), c);
    for (const c of CAPABILITIES) assert.ok(existsSync(join(SDK, manifest.exports[`./${c}`]!)), c);
  });

  for (const capability of CAPABILITIES) {
    it(`importing @bulwark/sdk/${capability} loads none of the other capabilities' modules, nor any package`, () => {
      const files = modulesLoadedBy(`@bulwark/sdk/${capability}`);
      // Positive control: the hook saw the capability's own index.
      assert.ok(files.includes(join(SDK, manifest.exports[`./${capability}`]!)), "the hook records loads");
      assert.deepEqual(
        foreign(capability, files).map((f) => relative(SDK, f)),
        [],
      );
    });
  }

  it("the check catches a cross-capability load (control: the old signing path loads /sign)", () => {
    const files = modulesLoadedBy("@bulwark/sdk/signing/detached");
    assert.ok(foreign("signing", files).some((f) => f.startsWith(join(SRC, "sign"))));
  });

  it("no SDK source depends on the server, the agent or the CLI", () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
      );
    const offenders = [...sources(SRC), ...sources(join(SDK, "examples"))].filter((f) =>
      /from\s+["']@bulwark\/(server|agent|cli)|packages\/(server|agent|cli)\//.test(readFileSync(f, "utf8")),
    );
    assert.deepEqual(offenders, []);
    assert.deepEqual(
      Object.keys(
        (JSON.parse(readFileSync(join(SDK, "package.json"), "utf8")) as { dependencies: object })
          .dependencies,
      ).filter((d) => d.startsWith("@bulwark/")),
      [],
    );
  });
});
