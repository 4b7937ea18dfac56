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

const fold = (text: string): string => text.replace(/\s+/g, " ").trim()

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
 * The text of a page with its tags replaced by spaces, whitespace folded. An unclosed `<` and
 * everything after it is kept as text, as `/<[^>]*>/g` did.
 * @internal
 */
export const pageText = (html: string): string => {
  let out = ""
  let at = 0
  for (;;) {
    const lt = html.indexOf("<", at)
    if (lt < 0) break
    const gt = html.indexOf(">", lt + 1)
    // No `>` after this `<` means none after any later `<` either: the rest is text.
    if (gt < 0) break
    out += html.slice(at, lt) + " "
    at = gt + 1
  }
  return fold(out + html.slice(at))
}
