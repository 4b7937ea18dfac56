#!/usr/bin/env node
/**
 * The package's `bin`. The commands need `@effect/cli` and `@effect/platform-node`, optional peer
 * dependencies (a library install should not carry a CLI framework and Node's server stack), so
 * this entry only loads the program and, when one of them is missing, says what to install
 * instead of a module-not-found stack trace.
 *
 * @since 0.1.0
 */
const OPTIONAL_PEERS = ["@effect/cli", "@effect/platform-node"] as const

const missingPeer = (error: unknown): string | undefined => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  const message = error instanceof Error ? error.message : ""
  return code === "ERR_MODULE_NOT_FOUND" ? OPTIONAL_PEERS.find((name) => message.includes(`'${name}`)) : undefined
}

import("./Program.js").catch((error: unknown) => {
  const missing = missingPeer(error)
  if (missing === undefined) throw error
  console.error(
    `effect-openai-resilience: the command line needs ${missing}, which is not installed. Install its peers: npm install -D @effect/cli@^0.77.2 @effect/platform-node@^0.108.2 (or run it with npx -p effect-openai-resilience -p @effect/cli@^0.77.2 -p @effect/platform-node@^0.108.2 effect-openai-resilience).`
  )
  process.exit(1)
})
