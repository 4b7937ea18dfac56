// The package's `require` condition: it is an ES module only (its peers `effect` and
// `@effect/platform` must be the same copies your code imports), so say so in one line instead of
// Node's ERR_PACKAGE_PATH_NOT_EXPORTED.
throw new Error(
  "effect-openai-resilience is ESM-only: load it with `import` from an ES module (\"type\": \"module\" in package.json, or a .mjs/.mts file), not with require()."
)
