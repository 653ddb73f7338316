import { registerHooks } from "node:module";
import { defineConfig } from "vitest/config";

// The global setup runs in this process, where Node loads our libs' TypeScript itself:
// a lib that imports another (cassandra-node imports core) needs the source condition
// there too, as the bins pass it with --conditions=devenv-source.
registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(specifier, specifier.startsWith("@devenv/") ? { ...context, conditions: [...context.conditions, "devenv-source"] } : context),
});

// One vitest run covers every project; the real services start once per run
// (test/harness/global-setup.ts shares them between projects).
const projects = [
  { name: "protocol", root: "libs/protocol" },
  { name: "core", root: "libs/core" },
  { name: "testing", root: "libs/testing" },
  { name: "cassandra-node", root: "libs/cassandra-node" },
  { name: "snapshot", root: "libs/snapshot" },
  { name: "fixtures", root: "libs/fixtures" },
  { name: "shrink", root: "libs/shrink" },
  { name: "hub", root: "libs/hub" },
  { name: "store", root: "libs/store" },
  { name: "jobs", root: "libs/jobs" },
  { name: "fleet", root: "libs/fleet" },
  { name: "api", root: "libs/api" },
  { name: "control-plane", root: "libs/control-plane" },
  { name: "control-plane-app", root: "apps/control-plane" },
  { name: "agent-runtime", root: "libs/agent-runtime" },
  { name: "agent", root: "apps/agent" },
  { name: "forward", root: "libs/forward" },
  { name: "cli", root: "apps/cli" },
  { name: "e2e", root: "test", include: ["**/*.test.ts"] },
];

export default defineConfig({
  // source imports of our own packages, in test files and in the global setup alike
  resolve: { conditions: ["devenv-source"], externalConditions: ["devenv-source"] },
  ssr: { resolve: { conditions: ["devenv-source"], externalConditions: ["devenv-source"] } },
  test: {
    root: import.meta.dirname,
    passWithNoTests: true,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    projects: projects.map(({ name, root, include }) => ({
      test: {
        name,
        root,
        include: include ?? ["src/**/*.test.ts"],
        exclude: ["**/node_modules/**", "**/dist/**"],
        globalSetup: [`${import.meta.dirname}/test/harness/global-setup.ts`],
      },
    })),
  },
});
