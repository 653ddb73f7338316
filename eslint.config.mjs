import nx from "@nx/eslint-plugin";
import tseslint from "typescript-eslint";

/**
 * Module boundaries by layer (package.json `nx.tags`), each listing what it may import:
 * - layer:protocol  libs/protocol: wire messages, formats, state enums; imports nothing of ours
 * - layer:core      libs/core: clock, retry, coded errors, config loader; the protocol at most
 * - layer:data      store, snapshot, shrink, cassandra-node, fixtures: no layer above them
 * - layer:agent     agent-runtime, forward, apps/agent: never the control plane
 * - layer:control-plane  hub, fleet, jobs, api, control-plane (the composition root)
 * - layer:testing   libs/testing: the real-service harness, for test code only
 * Apps (type:app) import libs only; the e2e suites import libs and apps.
 */
const layers = {
  "layer:protocol": [],
  "layer:core": ["layer:protocol"],
  "layer:data": ["layer:protocol", "layer:core", "layer:data"],
  "layer:agent": ["layer:protocol", "layer:core", "layer:data", "layer:agent"],
  "layer:control-plane": ["layer:protocol", "layer:core", "layer:data", "layer:control-plane"],
  "layer:testing": [],
};

/** `extra` widens what a layer may import (test code), by layer. */
function moduleBoundaries(extra = {}) {
  return [
    "error",
    {
      allow: [],
      banTransitiveDependencies: true,
      depConstraints: [
        ...Object.entries(layers).map(([sourceTag, allowed]) => ({
          sourceTag,
          onlyDependOnLibsWithTags: [...allowed, ...(extra[sourceTag] ?? [])],
        })),
        { sourceTag: "type:lib", onlyDependOnLibsWithTags: ["type:lib"] },
        { sourceTag: "type:app", onlyDependOnLibsWithTags: ["type:lib"] },
        { sourceTag: "type:e2e", onlyDependOnLibsWithTags: ["type:lib", "type:app"] },
      ],
    },
  ];
}

// Test code may use the test harness, and an agent-side test may run the real control-plane
// hub to talk to (its package lists the hub as a devDependency only).
const testCode = ["**/*.test.ts", "**/testing/**/*.ts"];
const testExtra = {
  "layer:core": ["layer:testing"],
  "layer:data": ["layer:testing"],
  "layer:agent": ["layer:testing", "layer:control-plane"],
  "layer:control-plane": ["layer:testing"],
};

export default [
  { ignores: ["**/dist/**", "**/node_modules/**", ".tools/**", ".nx/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@nx": nx },
    rules: {
      "@nx/enforce-module-boundaries": moduleBoundaries(),
      // lifecycles are enums of string literals: every switch over them must be exhaustive
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: testCode,
    rules: { "@nx/enforce-module-boundaries": moduleBoundaries(testExtra) },
  },
];
