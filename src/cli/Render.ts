/**
 * Plain-terminal rendering for the command line: tables, colour only on a TTY (and never when
 * `NO_COLOR` is set), and a progress bar that redraws in place on a TTY and prints a few plain
 * lines otherwise, so that output read from a log file stays clean.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

/**
 * Whether standard output is an interactive terminal that accepts colour and redraws.
 *
 * @since 0.1.0
 * @category terminal
 */
export const isTty = (): boolean => process.stdout.isTTY === true && process.env.NO_COLOR === undefined

const paint = (code: number) => (text: string): string => (isTty() ? `\x1b[${code}m${text}\x1b[0m` : text)

/**
 * Colours, applied only on a TTY.
 *
 * @since 0.1.0
 * @category terminal
 */
export const color = {
  bold: paint(1),
  dim: paint(2),
  red: paint(31),
  green: paint(32),
  yellow: paint(33),
  cyan: paint(36)
} as const

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g

const width = (text: string): number => text.replace(ANSI, "").length

/**
 * Renders rows as an aligned text table with a header rule. Cells wider than `maxWidth` wrap.
 *
 * @since 0.1.0
 * @category rendering
 */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  maxWidth: ReadonlyArray<number> = []
): string => {
  const wrap = (text: string, max: number | undefined): Array<string> => {
    if (max === undefined || width(text) <= max) return [text]
    const words = text.split(" ")
    const lines: Array<string> = []
    let line = ""
    for (const word of words) {
      if (line.length > 0 && width(line) + 1 + width(word) > max) {
        lines.push(line)
        line = word
      } else {
        line = line.length === 0 ? word : `${line} ${word}`
      }
    }
    if (line.length > 0) lines.push(line)
    return lines
  }
  const wrapped = rows.map((row) => row.map((cell, i) => wrap(cell, maxWidth[i])))
  const widths = header.map((h, i) =>
    Math.max(width(h), ...wrapped.map((row) => Math.max(0, ...(row[i] ?? []).map(width))))
  )
  const pad = (text: string, i: number) => text + " ".repeat(Math.max(0, (widths[i] ?? 0) - width(text)))
  const out: Array<string> = []
  out.push(header.map((h, i) => pad(color.bold(h), i)).join("  ").trimEnd())
  out.push(widths.map((w) => "-".repeat(w)).join("  "))
  for (const row of wrapped) {
    const height = Math.max(1, ...row.map((cell) => cell.length))
    for (let line = 0; line < height; line++) {
      out.push(row.map((cell, i) => pad(cell[line] ?? "", i)).join("  ").trimEnd())
    }
  }
  return out.join("\n")
}

/**
 * A progress bar: `update(done, detail)` redraws it. On a TTY it redraws in place; otherwise it
 * prints a line at each quarter, so logs get four lines, not hundreds.
 *
 * @since 0.1.0
 * @category rendering
 */
export const progress = (total: number, label: string) => {
  let lastQuarter = -1
  const render = (done: number, detail: string): string => {
    const size = 30
    const filled = total === 0 ? size : Math.round((done / total) * size)
    return `${label} [${"#".repeat(filled)}${".".repeat(size - filled)}] ${done}/${total} ${detail}`
  }
  return {
    update: (done: number, detail: string): Effect.Effect<void> =>
      Effect.sync(() => {
        if (isTty()) {
          process.stdout.write(`\r${render(done, detail)}\x1b[K`)
          return
        }
        const quarter = total === 0 ? 4 : Math.floor((done / total) * 4)
        if (quarter !== lastQuarter) {
          lastQuarter = quarter
          process.stdout.write(`${render(done, detail)}\n`)
        }
      }),
    finish: (done: number, detail: string): Effect.Effect<void> =>
      isTty() ? Console.log(`\r${render(done, detail)}\x1b[K`) : lastQuarter === 4 ? Effect.void : Console.log(render(done, detail))
  }
}

/**
 * Formats milliseconds for people: `850ms`, `1.2s`, `2m05s`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const ms = (millis: number): string => {
  if (millis < 1000) return `${Math.round(millis)}ms`
  if (millis < 60_000) return `${(millis / 1000).toFixed(1)}s`
  const minutes = Math.floor(millis / 60_000)
  const seconds = Math.round((millis % 60_000) / 1000)
  return `${minutes}m${String(seconds).padStart(2, "0")}s`
}
