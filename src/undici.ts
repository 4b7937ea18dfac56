/**
 * The lean undici client: `effect-openai-resilience/undici`. A separate entry so that the main one
 * never loads `undici` nor `@effect/platform-node` (optional peer dependencies), and bundles for a
 * browser.
 *
 * @since 0.2.0
 */

/**
 * An `HttpClient` over undici's `Dispatcher.request`, for Node.
 *
 * @since 0.2.0
 */
export * as UndiciHttpClient from "./UndiciHttpClient.js"
