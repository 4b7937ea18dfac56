/**
 * What needs Node (`node:fs`): `effect-openai-resilience/node`. A separate entry so that the main
 * one bundles for a browser.
 *
 * @since 0.2.0
 */

/**
 * The checkpoint store that is the output file itself.
 *
 * @since 0.2.0
 */
export * as CheckpointFile from "./CheckpointFile.js"
