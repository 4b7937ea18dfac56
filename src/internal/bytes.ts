/**
 * Byte helpers shared by the modules that assemble bodies.
 *
 * @internal
 */

/** The bytes of `parts`, one after the other. @internal */
export const concat = (parts: Iterable<Uint8Array>): Uint8Array => {
  const all = Array.from(parts)
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of all) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
