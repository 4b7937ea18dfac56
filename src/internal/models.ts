/**
 * Reading a per-model table (context windows, prices) the way OpenAI names models.
 * @internal
 */

/**
 * The entry for a model: its own, else the longest key its name extends with a `-` (a dated
 * snapshot: `gpt-4o-2024-08-06` has `gpt-4o`'s). A fine-tune (`ft:<base>:org::id`) reads as its
 * base model.
 */
export const lookup = <A>(table: Readonly<Record<string, A>>, model: string): A | undefined => {
  const name = model.startsWith("ft:") ? model.slice(3).split(":")[0] ?? "" : model
  if (Object.hasOwn(table, name)) return table[name]
  let best: string | undefined
  for (const key of Object.keys(table)) {
    if (name.startsWith(`${key}-`) && (best === undefined || key.length > best.length)) best = key
  }
  return best === undefined ? undefined : table[best]
}
