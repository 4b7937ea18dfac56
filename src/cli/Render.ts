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
 * The width tables must fit: the terminal's columns on a TTY, else `COLUMNS` when set, else
 * `undefined` (a pipe or a log file: plain rows, one line each, easy to grep).
 *
 * @since 0.1.0
 * @category terminal
 */
export const outputWidth = (): number | undefined => {
  const env = Number(process.env.COLUMNS)
  if (Number.isInteger(env) && env > 0) return env
  if (process.stdout.isTTY === true && (process.stdout.columns ?? 0) > 0) return process.stdout.columns
  return undefined
}

/**
 * How {@link table} fits its width.
 *
 * @since 0.1.0
 * @category rendering
 */
export interface TableOptions {
  /** The width to fit; `undefined`: plain rows, never wrapped (see {@link outputWidth}). */
  readonly width?: number | undefined
  /** Column indexes that may be dropped, first to go first, when wrapping alone cannot fit. */
  readonly drop?: ReadonlyArray<number> | undefined
}

const GAP = 2
// A column is never wrapped narrower than this, its header's words, or its longest word up to
// MAX_WORD characters; only a longer word, or a width too small for every floor, gets cut.
const MIN_COLUMN = 8
const MAX_WORD = 24

// A cell painted whole (see `color`) wraps as plain text, each line painted again, so that no
// escape sequence is cut or spills into the next column.
const PAINTED = /^(\x1b\[[0-9;]*m)([\s\S]*)\x1b\[0m$/

const wrapCell = (text: string, max: number): Array<string> => {
  if (width(text) <= max) return [text]
  const painted = PAINTED.exec(text)
  if (painted !== null) return wrapPlain(painted[2] ?? "", max).map((line) => `${painted[1]}${line}\x1b[0m`)
  return wrapPlain(text.replace(ANSI, ""), max)
}

const wrapPlain = (text: string, max: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    let rest = word
    // A word longer than the column (a long error code) is cut, so the table still fits.
    while (width(rest) > max) {
      if (line.length > 0) {
        lines.push(line)
        line = ""
      }
      lines.push(rest.slice(0, max))
      rest = rest.slice(max)
    }
    if (line.length > 0 && width(line) + 1 + width(rest) > max) {
      lines.push(line)
      line = rest
    } else {
      line = line.length === 0 ? rest : `${line} ${rest}`
    }
  }
  if (line.length > 0 || lines.length === 0) lines.push(line)
  return lines
}

// Column widths that fit `total`: the widest column gives up a character at a time, down to its
// floor (its header, at least MIN_COLUMN); `undefined` when even the floors do not fit.
const fitWidths = (natural: ReadonlyArray<number>, floors: ReadonlyArray<number>, total: number) => {
  const widths = [...natural]
  const used = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1)
  while (used() > total) {
    let widest = -1
    for (let i = 0; i < widths.length; i++) {
      if ((widths[i] ?? 0) > (floors[i] ?? 0) && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i
    }
    if (widest < 0) return undefined
    widths[widest] = (widths[widest] ?? 0) - 1
  }
  return widths
}

/**
 * Renders rows as an aligned text table with a header rule. Given a width, cells wrap (and, when
 * that is not enough, the columns in `drop` go) so that no line is wider; without one, each row
 * is one plain line.
 *
 * @since 0.1.0
 * @category rendering
 */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  options: TableOptions = {}
): string => {
  let columns = header.map((_, i) => i)
  const natural = (i: number) => Math.max(width(header[i] ?? ""), ...rows.map((row) => width(row[i] ?? "")))
  // A column narrower than its longest word would cut words: drop a column before that.
  const hardFloor = (i: number) => Math.min(natural(i), Math.max(MIN_COLUMN, ...(header[i] ?? "").split(" ").map(width)))
  const floor = (i: number) =>
    Math.min(
      natural(i),
      Math.max(
        MIN_COLUMN,
        ...(header[i] ?? "").split(" ").map(width),
        ...rows.flatMap((row) => (row[i] ?? "").replace(ANSI, "").split(" ").map((word) => Math.min(MAX_WORD, word.length)))
      )
    )
  let widths = columns.map(natural)
  if (options.width !== undefined) {
    const dropQueue = [...(options.drop ?? [])]
    for (;;) {
      const fitted = fitWidths(columns.map(natural), columns.map(floor), options.width)
      const next = dropQueue.shift()
      if (fitted !== undefined || next === undefined) {
        // Nothing left to drop: cut long words rather than overflow.
        widths = fitted ?? fitWidths(columns.map(natural), columns.map(hardFloor), options.width) ?? columns.map(hardFloor)
        break
      }
      columns = columns.filter((c) => c !== next)
    }
  }
  const wrapped = rows.map((row) => columns.map((c, i) => wrapCell(row[c] ?? "", widths[i] ?? 0)))
  const pad = (text: string, i: number) => text + " ".repeat(Math.max(0, (widths[i] ?? 0) - width(text)))
  const out: Array<string> = []
  const headers = columns.map((c, i) => wrapCell(header[c] ?? "", widths[i] ?? 0))
  const headerHeight = Math.max(1, ...headers.map((h) => h.length))
  for (let line = 0; line < headerHeight; line++) {
    out.push(headers.map((h, i) => pad(color.bold(h[line] ?? ""), i)).join(" ".repeat(GAP)).trimEnd())
  }
  out.push(widths.map((w) => "-".repeat(w)).join(" ".repeat(GAP)))
  for (const row of wrapped) {
    const height = Math.max(1, ...row.map((cell) => cell.length))
    for (let line = 0; line < height; line++) {
      out.push(row.map((cell, i) => pad(cell[line] ?? "", i)).join(" ".repeat(GAP)).trimEnd())
    }
  }
  return out.join("\n")
}

/**
 * Wraps prose to the output width (at most 100 columns, which reads best; 100 in a pipe), each
 * line after `indent`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const paragraph = (text: string, indent = ""): string =>
  wrapPlain(text.replace(/\s+/g, " ").trim(), Math.max(20, Math.min(outputWidth() ?? 100, 100) - indent.length))
    .map((line) => `${indent}${line}`)
    .join("\n")

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
    const size = 20
    const filled = total === 0 ? size : Math.round((done / total) * size)
    const text = `${label} [${"#".repeat(filled)}${".".repeat(size - filled)}] ${done}/${total} ${detail}`
    // On a terminal, a line wider than it would wrap, and the next redraw would not erase it.
    const max = outputWidth()
    return max === undefined || !isTty() ? text : text.slice(0, Math.max(0, max - 1))
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
