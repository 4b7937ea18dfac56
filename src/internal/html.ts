/**
 * What a person would call an HTML page (a proxy's error or sign-in page): its title, else its
 * first heading, whitespace folded.
 * @internal
 */
export const pageTitle = (html: string): string | undefined => {
  const found = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1] ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1]
  const folded = found?.replace(/\s+/g, " ").trim()
  return folded === undefined || folded.length === 0 ? undefined : folded
}
