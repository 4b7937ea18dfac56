/**
 * The @effect/ai-openai integration: `effect-openai-resilience/effect-ai`. A separate entry point so
 * that the main one never loads @effect/ai (an optional peer dependency).
 *
 * @since 0.1.0
 */

/**
 * The whole stack for @effect/ai-openai's `OpenAiClient`, and the typed error read back from its
 * `AiError`s.
 *
 * @since 0.1.0
 */
export * as EffectAi from "../EffectAi.js"
