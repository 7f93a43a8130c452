// Dependency rules (issue #14 item 3): imports point one way. `npm run depcruise` checks them in CI.
// The server's folders form layers, bottom first; a folder may import only folders of a lower
// layer, never one of its own layer or above. With a strict order no two folders can import each
// other, so there is no cycle between folders; `no-circular` forbids cycles between files too.
// docs/architecture.md ("Layers") says why each folder sits where it does.
const SERVER_LAYERS = [
  ["store", "types"],
  ["http", "net", "control"],
  ["custody"],
  ["audit"],
  ["access"],
  ["pki"],
  ["products"],
  ["fleet"],
  ["enrolment"],
  ["mqtt"],
  ["software", "updates"],
  ["cra"],
  // The composition root: startup/ and the files directly in src/ (app.ts, main.ts, config.ts, ...).
  ["startup"],
];
const SRC = "^packages/server/src/";
const folders = (names) => `${SRC}(${names.join("|")})/`;

function layerRules(layers) {
  return layers.map((layer, index) => ({
    name: `layer-${index + 1}-${layer.join("-")}`,
    comment: `${layer.join(", ")} may import only the layers below: ${
      index === 0 ? "none" : layers.slice(0, index).flat().join(", ")
    }`,
    severity: "error",
    // Tests sit above their folder (nothing imports a test), so they may set up state from above.
    from: { path: folders(layer), pathNot: "\\.test\\.ts$" },
    to: {
      // Within its own folder a file imports freely; any other server folder must be lower.
      path: SRC,
      pathNot: [
        `${SRC}$1/`,
        `${SRC}[^/]+\\.ts$`,
        ...(index === 0 ? [] : [folders(layers.slice(0, index).flat())]),
      ],
    },
  }));
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules(SERVER_LAYERS),
    {
      name: "folder-without-layer",
      comment: "every server folder has a place in SERVER_LAYERS (.dependency-cruiser.cjs)",
      severity: "error",
      from: { path: SRC, pathNot: [folders(SERVER_LAYERS.flat()), `${SRC}[^/]+\\.ts$`] },
      to: {},
    },
    {
      name: "composition-root-imported",
      comment:
        "the composition root (app.ts, main.ts, bootstrap.ts, config.ts, ...) is imported by no folder",
      severity: "error",
      from: { path: folders(SERVER_LAYERS.flat().filter((f) => f !== "startup")), pathNot: "\\.test\\.ts$" },
      to: { path: `${SRC}[^/]+\\.ts$` },
    },
    {
      name: "no-circular",
      comment: "no cycle between files",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "sdk-stands-alone",
      comment: "the SDK imports nothing of the server, the agent or the CLI",
      severity: "error",
      from: { path: "^packages/sdk/" },
      to: { path: "^packages/(server|agent|cli)/" },
    },
    {
      name: "agent-not-server",
      comment: "the agent never imports the server",
      severity: "error",
      from: { path: "^packages/agent/" },
      to: { path: "^packages/server/" },
    },
    {
      name: "server-not-agent",
      comment: "the server never imports the agent",
      severity: "error",
      from: { path: "^packages/server/" },
      to: { path: "^packages/agent/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // The rule set's own test fixture breaks every rule on purpose (test/architecture/).
    exclude: { path: ["(^|/)node_modules/", "^test/architecture/fixture/"] },
    // Type-only imports count: layers apply to types too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
