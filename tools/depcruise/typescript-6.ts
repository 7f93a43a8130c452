import { createRequire, registerHooks } from "node:module";
import { pathToFileURL } from "node:url";

/**
 * dependency-cruiser parses TypeScript through the compiler's JS API, which TypeScript 7 (the
 * project's `tsc`) no longer has. This hook hands dependency-cruiser the TypeScript 6 installed in
 * this folder instead; everything else keeps resolving `typescript` to the project's own.
 */
const fromHere = createRequire(import.meta.url);

registerHooks({
  resolve(specifier, context, nextResolve) {
    const fromCruiser = context.parentURL?.includes("/node_modules/dependency-cruiser/") ?? false;
    if (fromCruiser && (specifier === "typescript" || specifier.startsWith("typescript/")))
      return { url: pathToFileURL(fromHere.resolve(specifier)).href, shortCircuit: true };
    return nextResolve(specifier, context);
  },
});
