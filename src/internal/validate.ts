/**
 * A fast path for decoding JSON with a schema that has no transformations: a predicate compiled
 * once from the schema's AST that says "the schema's decoder would succeed on this input and
 * return a value equal to it". Decoding then returns the input itself, without the parser's
 * per-node Either values and output copies (most of a stream's decoding time).
 *
 * The predicate is conservative: `true` only where the decoder is known to succeed with an equal
 * output; anything it is not sure of answers `false`, and the caller runs the full decoder, which
 * decides and explains. A schema with a node whose output can differ from its input (a
 * transformation, a declaration, a template literal) compiles to `undefined`: no fast path.
 * Only valid under `onExcessProperty: "preserve"` (other settings drop or reject unknown keys).
 * @internal
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"

/** @internal */
export type Check = (input: unknown) => boolean

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const always: Check = () => true

const hasOwn = Object.prototype.hasOwnProperty

// The literals a member requires at property `name` (a struct, or a refined one), if any.
const literalsAt = (ast: SchemaAST.AST, name: string): ReadonlyArray<unknown> | undefined => {
  const struct = ast._tag === "Refinement" ? ast.from : ast
  if (struct._tag !== "TypeLiteral") return undefined
  const ps = struct.propertySignatures.find((p) => p.name === name)
  if (ps === undefined || ps.isOptional) return undefined
  if (ps.type._tag === "Literal") return [ps.type.literal]
  if (ps.type._tag === "Union" && ps.type.types.every((t) => t._tag === "Literal")) {
    return ps.type.types.map((t) => (t as SchemaAST.Literal).literal)
  }
  return undefined
}

// The property most members of a union tell apart by literal (`type`), if two or more do.
const discriminator = (types: ReadonlyArray<SchemaAST.AST>): string | undefined => {
  const counts = new Map<string, number>()
  for (const t of types) {
    const struct = t._tag === "Refinement" ? t.from : t
    if (struct._tag !== "TypeLiteral") continue
    for (const ps of struct.propertySignatures) {
      if (typeof ps.name === "string" && literalsAt(t, ps.name) !== undefined) {
        counts.set(ps.name, (counts.get(ps.name) ?? 0) + 1)
      }
    }
  }
  let best: string | undefined
  let most = 1
  for (const [name, n] of counts) {
    if (n > most) {
      best = name
      most = n
    }
  }
  return best
}

type Go = (ast: SchemaAST.AST) => Check | undefined

const tupleTypeCheck = (ast: SchemaAST.TupleType, go: Go): Check | undefined => {
  if (ast.rest.length > 1) return undefined
  const elements: Array<readonly [Check, boolean]> = []
  for (const e of ast.elements) {
    const check = go(e.type)
    if (check === undefined) return undefined
    elements.push([check, e.isOptional])
  }
  const restAst = ast.rest[0]
  const rest = restAst === undefined ? undefined : go(restAst.type)
  if (restAst !== undefined && rest === undefined) return undefined
  const required = elements.filter(([, optional]) => !optional).length
  return (u) => {
    if (!Array.isArray(u) || u.length < required) return false
    if (rest === undefined && u.length > elements.length) return false
    for (let i = 0; i < u.length; i++) {
      const element = elements[i]
      const value: unknown = u[i]
      if (element !== undefined) {
        // An optional element given as `undefined` is left to the decoder.
        if (value === undefined || !element[0](value)) return false
      } else if (rest === undefined || !rest(value)) return false
    }
    return true
  }
}

const typeLiteralCheck = (ast: SchemaAST.TypeLiteral, go: Go): Check | undefined => {
  const props: Array<readonly [string, Check, boolean]> = []
  for (const ps of ast.propertySignatures) {
    if (typeof ps.name !== "string") return undefined
    const check = go(ps.type)
    if (check === undefined) return undefined
    props.push([ps.name, check, ps.isOptional])
  }
  const index: Array<Check> = []
  for (const is of ast.indexSignatures) {
    // Only `Record<string, _>`: other key schemas select keys in ways not mirrored here.
    if (is.parameter._tag !== "StringKeyword") return undefined
    const check = go(is.type)
    if (check === undefined) return undefined
    index.push(check)
  }
  if (props.length === 0 && index.length === 0) return (u) => u !== null && u !== undefined
  // Parallel arrays, and a property read before the own-property test: on a plain object a
  // name that `Object.prototype` does not have reads `undefined` exactly when it is absent
  // or given as `undefined`, so only those pay for `hasOwnProperty` (as the decoder, a
  // property inherited from elsewhere counts as absent).
  const names = props.map(([name]) => name)
  const checks = props.map(([, check]) => check)
  const optionals = props.map(([, , optional]) => optional)
  const plain = names.every((name) => !(name in Object.prototype))
  return (u) => {
    // An own `__proto__` (JSON.parse makes one) is copied by the decoder as a prototype, not a
    // property: a different value, so such input takes the decoder's path.
    if (!isObject(u) || hasOwn.call(u, "__proto__")) return false
    const direct = plain && Object.getPrototypeOf(u) === Object.prototype
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string
      const value = direct ? u[name] : undefined
      if (direct ? value !== undefined || hasOwn.call(u, name) : hasOwn.call(u, name)) {
        if (!(checks[i] as Check)(direct ? value : u[name])) return false
      } else if (!optionals[i]) return false
    }
    if (index.length > 0) {
      for (const key of Object.keys(u)) {
        for (const check of index) if (!check(u[key])) return false
      }
    }
    return true
  }
}

const unionCheck = (ast: SchemaAST.Union, go: Go): Check | undefined => {
  // Every member must be known: the decoder returns the first member that succeeds, and a
  // transforming member before a plain one would give a different value.
  const members: Array<Check> = []
  for (const t of ast.types) {
    const check = go(t)
    if (check === undefined) return undefined
    members.push(check)
  }
  const anyOf = (list: ReadonlyArray<Check>, u: unknown) => {
    for (let i = 0; i < list.length; i++) if ((list[i] as Check)(u)) return true
    return false
  }
  const tag = discriminator(ast.types)
  if (tag === undefined) return (u) => anyOf(members, u)
  // Only the members whose literal matches the input's (and those without one) can
  // accept it: which member accepts does not matter, as none of them transforms.
  const byLiteral = new Map<unknown, Array<Check>>()
  const others: Array<Check> = []
  ast.types.forEach((t, i) => {
    const check = members[i] as Check
    const literals = literalsAt(t, tag)
    if (literals === undefined) return others.push(check)
    for (const literal of literals) {
      const list = byLiteral.get(literal) ?? []
      list.push(check)
      byLiteral.set(literal, list)
    }
  })
  return (u) => {
    if (isObject(u)) {
      const list = byLiteral.get(u[tag])
      if (list !== undefined && anyOf(list, u)) return true
      return anyOf(others, u)
    }
    return anyOf(members, u)
  }
}

/**
 * The predicate of a schema's AST, or `undefined` when the schema can transform its input.
 * @internal
 */
export const compile = (ast: SchemaAST.AST, options: SchemaAST.ParseOptions): Check | undefined => {
  // Cycles go through `Suspend`: a node being compiled is referred to through its slot.
  const slots = new Map<SchemaAST.AST, { check: Check | undefined }>()

  const go = (ast: SchemaAST.AST): Check | undefined => {
    switch (ast._tag) {
      case "StringKeyword":
        return (u) => typeof u === "string"
      case "NumberKeyword":
        return (u) => typeof u === "number"
      case "BooleanKeyword":
        return (u) => typeof u === "boolean"
      case "UnknownKeyword":
      case "AnyKeyword":
        return always
      case "UndefinedKeyword":
        return (u) => u === undefined
      case "Literal":
      case "UniqueSymbol": {
        const literal = ast._tag === "Literal" ? ast.literal : ast.symbol
        return (u) => u === literal
      }
      case "Enums": {
        const values = ast.enums.map(([, value]) => value)
        return (u) => values.includes(u as string | number)
      }
      case "Refinement": {
        const from = go(ast.from)
        if (from === undefined) return undefined
        const refinement = ast
        return (u) => from(u) && Option.isNone(refinement.filter(u, options, refinement))
      }
      case "TupleType":
        return tupleTypeCheck(ast, go)
      case "TypeLiteral":
        return typeLiteralCheck(ast, go)
      case "Union":
        return unionCheck(ast, go)
      case "Suspend": {
        const target = ast.f()
        const slot = slots.get(target)
        if (slot !== undefined) return (u) => slot.check !== undefined && slot.check(u)
        const fresh: { check: Check | undefined } = { check: undefined }
        slots.set(target, fresh)
        fresh.check = go(target)
        return fresh.check
      }
      default:
        // Declaration, Transformation, TemplateLiteral, the other keywords: leave to the decoder.
        return undefined
    }
  }

  if (options.onExcessProperty !== "preserve") return undefined
  return go(ast)
}

/**
 * `Schema.decodeUnknownEither` with the fast path in front: an input the predicate accepts is
 * returned as it is; any other goes through the decoder, which decides and explains.
 * @internal
 */
export const decodeEither = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options: SchemaAST.ParseOptions
): (input: unknown) => Either.Either<A, ParseResult.ParseError> => {
  const unsafe = Schema.decodeUnknownEither(schema, options)
  // Effect's decoder can throw on hostile input (a union reads `String(input.type)`, which throws
  // for `{"type": {"toString": []}}`): that is a parse error of this input, not a defect.
  const decode = (input: unknown): Either.Either<A, ParseResult.ParseError> => {
    try {
      return unsafe(input)
    } catch (cause) {
      return Either.left(
        new ParseResult.ParseError({
          issue: new ParseResult.Type(schema.ast, input, `the decoder failed on this input: ${cause instanceof Error ? cause.message : "unknown error"}`)
        })
      )
    }
  }
  const check = compile(schema.ast, options)
  if (check === undefined) return decode
  // `check` accepted it: the decoder would return an equal value (see the module's note).
  return (input) => check(input) ? Either.right(input as A) : decode(input)
}
