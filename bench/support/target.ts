/**
 * The one format of a bench's verdict lines, so that a reader (or a script) can take every bench's
 * last lines alike: `target <name>: <value><unit> (goal <op> <goal><unit>) met|missed`.
 * The name holds no ": ", so a line splits at its first one.
 */

/** How a figure compares with its goal. */
export type Op = "<=" | ">="

/** What a target line says besides its name and value. */
export interface Goal {
  readonly op: Op
  readonly goal: number
  /** Printed after the value and the goal, e.g. `" us"`, `"%"`, `"x"`, `" ms"`. */
  readonly unit?: string
  /** Decimals of the value; 2 unless told. */
  readonly digits?: number
  /** A condition the target also needs beyond the comparison (e.g. the right error tag). */
  readonly also?: boolean
  /** How to print a value that is not finite (e.g. "never"). */
  readonly infinite?: string
}

/** `met` when `value` is on the right side of the goal (and `also` holds). */
export const isMet = (value: number, goal: Goal): boolean =>
  (goal.op === "<=" ? value <= goal.goal : value >= goal.goal) && goal.also !== false

/** The line, e.g. `target p50 latency: 1.08x (goal <= 1.1x) met`. */
export const targetLine = (name: string, value: number, goal: Goal): string => {
  const unit = goal.unit ?? ""
  const shown = Number.isFinite(value) ? `${value.toFixed(goal.digits ?? 2)}${unit}` : (goal.infinite ?? String(value))
  return `target ${name.replaceAll(": ", "=")}: ${shown} (goal ${goal.op} ${goal.goal}${unit}) ${
    isMet(value, goal) ? "met" : "missed"
  }`
}

/** Prints {@link targetLine}. */
export const printTarget = (name: string, value: number, goal: Goal): void => console.log(targetLine(name, value, goal))
