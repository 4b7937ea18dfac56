/**
 * The benches' one table format: a header, a rule as wide as it, then one line per row. The first
 * column is left-aligned, the others right-aligned, each as wide as its widest cell.
 */
export const printTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): void => {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ")
  const head = line(header)
  console.log(head)
  console.log("-".repeat(head.length))
  for (const row of rows) console.log(line(row))
}
