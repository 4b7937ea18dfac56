/**
 * The command line's flags, checked before @effect/cli parses them. @effect/cli takes `chat -m`
 * (no value) as the prompt "-m", reports `mock-server --port` (no value) as an unknown argument,
 * and an unknown flag before the command as an invalid subcommand; this check says what is wrong
 * in the words a person expects.
 *
 * @since 0.1.0
 */

/**
 * A flag of a command: `--name` (and `-alias`), with or without a value.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flag {
  readonly name: string
  readonly alias?: string | undefined
  readonly takesValue: boolean
}

/**
 * The flags @effect/cli adds to every command.
 *
 * @since 0.1.0
 * @category constants
 */
export const builtIn: ReadonlyArray<Flag> = [
  { name: "help", alias: "h", takesValue: false },
  { name: "version", takesValue: false },
  { name: "wizard", takesValue: false },
  { name: "completions", takesValue: true },
  { name: "log-level", takesValue: true }
]

const spell = (flag: Flag): string => `--${flag.name}${flag.alias === undefined ? "" : ` (-${flag.alias})`}`

const find = (flags: ReadonlyArray<Flag>, token: string): Flag | undefined =>
  flags.find((f) => token === `--${f.name}` || (f.alias !== undefined && token === `-${f.alias}`))

const hint = (program: string, command: string | undefined): string =>
  `\nRun '${program}${command === undefined ? "" : ` ${command}`} --help' for the usage.`

// "-1" and "-0.5" are values (a negative number), not flags.
const looksLikeFlag = (token: string): boolean => /^-/.test(token) && !/^-\d/.test(token)

/**
 * Checks `args` (without `node` and the script) against each command's flags. `undefined` when
 * they look right (@effect/cli then parses them, and reports anything else); otherwise the
 * message for a usage error (exit code 2).
 *
 * @since 0.1.0
 * @category checks
 */
export const check = (
  program: string,
  args: ReadonlyArray<string>,
  commands: Readonly<Record<string, ReadonlyArray<Flag>>>
): string | undefined => {
  if (args.some((a) => a === "--help" || a === "-h" || a === "--version")) return undefined
  const names = Object.keys(commands)
  let command: string | undefined
  for (let i = 0; i < args.length; i++) {
    const token = args[i] ?? ""
    if (token === "--") return undefined
    const [head, inline] = token.startsWith("--") && token.includes("=")
      ? [token.slice(0, token.indexOf("=")), token.slice(token.indexOf("=") + 1)]
      : [token, undefined]
    const flags = command === undefined ? builtIn : [...(commands[command] ?? []), ...builtIn]
    const flag = find(flags, head)
    if (flag !== undefined) {
      if (!flag.takesValue) continue
      if (inline !== undefined) {
        if (inline.length === 0) return `Option ${spell(flag)} needs a value.${hint(program, command)}`
        continue
      }
      const value = args[i + 1]
      if (value === undefined || looksLikeFlag(value)) return `Option ${spell(flag)} needs a value.${hint(program, command)}`
      i++
      continue
    }
    if (looksLikeFlag(head)) {
      if (command === undefined) {
        return `Unknown option '${head.slice(0, 60)}'. Options go after the command: ${program} <${
          names.join("|")
        }> [options].${hint(program, command)}`
      }
      const accepted = (commands[command] ?? []).map(spell).join(", ")
      return `Unknown option '${head.slice(0, 60)}' for '${command}'. Its options: ${accepted || "none"}.${
        hint(program, command)
      }`
    }
    // The first word is the command; an unknown one is left to @effect/cli, which lists them.
    if (command === undefined) {
      if (!names.includes(token)) return undefined
      command = token
    }
  }
  return undefined
}
