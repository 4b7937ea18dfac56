/**
 * Byte helpers shared by the modules that assemble bodies.
 *
 * @internal
 */

/**
 * The bytes of `parts`, one after the other: a single part as it is, no copy. `length`, when the
 * caller has counted it, saves a pass. @internal
 */
export const concat = (parts: Iterable<Uint8Array>, length?: number): Uint8Array => {
  const all = Array.isArray(parts) ? parts as ReadonlyArray<Uint8Array> : Array.from(parts)
  if (all.length === 1 && all[0] !== undefined) return all[0]
  const out = new Uint8Array(length ?? all.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of all) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
