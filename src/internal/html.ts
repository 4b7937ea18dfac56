/**
 * Reading HTML a server sent (a proxy's error or sign-in page). Every scan here is linear in the
 * page's length: the bodies are hostile input, and the regular expressions these replace
 * (`/<title[^>]*>([\s\S]*?)<\/title>/i`, `/<[^>]*>/g`) were quadratic on runs of unclosed `<` or
 * `<title` (57 s on one 256 KiB body).
 * @internal
 */
// The text between the first `<name ...>` and the first `</name>` after it (case-insensitive), as
// the old lazy regular expression found it: a later opening tag can only see the same closing tag,
// so the first one decides. Each search is a forward scan from where the previous one stopped.
const element = (html: string, name: string): string | undefined => {
  const open = new RegExp(`<${name}`, "gi")
  if (open.exec(html) === null) return undefined
  const gt = html.indexOf(">", open.lastIndex)
  if (gt < 0) return undefined
  const close = new RegExp(`</${name}>`, "gi")
  close.lastIndex = gt + 1
  const end = close.exec(html)
  return end === null ? undefined : html.slice(gt + 1, end.index)
}

const isSpace = (c: number): boolean =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff

/**
 * `text` with each run of whitespace folded to one space and the ends trimmed, cut at the first
 * whitespace after `min` characters of output (so that no word, and no key, is cut). A caller that
 * shows a bounded excerpt pays for the excerpt, not for the whole text.
 * @internal
 */
export const foldedHead = (text: string, min: number): string => {
  let out = ""
  let start = -1 // start of the current word
  for (let i = 0; i <= text.length; i++) {
    const space = i === text.length || isSpace(text.charCodeAt(i))
    if (!space) {
      if (start < 0) start = i
      continue
    }
    if (start >= 0) {
      out += (out.length > 0 ? " " : "") + text.slice(start, i)
      start = -1
      if (out.length >= min) break
    }
  }
  return out
}

const fold = (text: string): string => foldedHead(text, 1024)

/**
 * What a person would call an HTML page: its title, else its first heading, whitespace folded.
 * @internal
 */
export const pageTitle = (html: string): string | undefined => {
  const found = element(html, "title") ?? element(html, "h1")
  const folded = found === undefined ? undefined : fold(found)
  return folded === undefined || folded.length === 0 ? undefined : folded
}

/**
 * The text of a page with its tags replaced by spaces, whitespace folded, from its start until at
 * least `min` characters (see {@link foldedHead}). An unclosed `<` and everything after it is
 * kept as text, as `/<[^>]*>/g` did.
 * @internal
 */
export const pageText = (html: string, min = 1024): string => {
  let out = ""
  let at = 0
  // Enough text for an excerpt of `min` characters is all a caller shows.
  while (out.length < 4 * min) {
    const lt = html.indexOf("<", at)
    if (lt < 0) break
    const gt = html.indexOf(">", lt + 1)
    // No `>` after this `<` means none after any later `<` either: the rest is text.
    if (gt < 0) break
    out += html.slice(at, lt) + " "
    at = gt + 1
  }
  return foldedHead(out.length < 4 * min ? out + html.slice(at) : out, min)
}
