/**
 * What the mock's assistant answers, shared by chat completions and the Responses API: the echo
 * of the last user message; a JSON value valid for the schema when structured output is asked
 * for; a call of a tool when tools are offered (until the request carries the tool's result).
 *
 * @internal
 */
import type { JsonRecord } from "./content.js"
import { isRecord, replyOf, textOf } from "./content.js"
import { generate } from "./jsonSchema.js"

/** One function call the assistant makes. @internal */
export interface ToolCall {
  /** `call_...`: what the caller answers with its result. */
  readonly callId: string
  /** `fc_...`: the Responses API's item id. */
  readonly itemId: string
  readonly name: string
  readonly arguments: string
}

/** The assistant's output. `json` says the text is a JSON document (streamed by JSON pieces). @internal */
export type Output =
  | { readonly _tag: "Text"; readonly text: string; readonly json: boolean }
  | { readonly _tag: "ToolCalls"; readonly calls: ReadonlyArray<ToolCall> }

interface Tool {
  readonly name: string
  readonly parameters: unknown
}

// Chat: {type: "function", function: {name, parameters}}; Responses: {type: "function", name, parameters}.
const toolsOf = (body: JsonRecord): ReadonlyArray<Tool> => {
  if (!Array.isArray(body.tools)) return []
  const out: Array<Tool> = []
  for (const t of body.tools) {
    if (!isRecord(t) || t.type !== "function") continue
    const f = isRecord(t.function) ? t.function : t
    if (typeof f.name === "string" && f.name.length > 0) out.push({ name: f.name, parameters: f.parameters })
  }
  return out
}

/** The tool `tool_choice` names, `"none"`, or undefined for the first one. */
const chosen = (body: JsonRecord, tools: ReadonlyArray<Tool>): Tool | "none" | undefined => {
  const choice = body.tool_choice
  if (choice === "none") return "none"
  if (isRecord(choice)) {
    const name = isRecord(choice.function) ? choice.function.name : choice.name
    const tool = tools.find((t) => t.name === name)
    if (tool !== undefined) return tool
  }
  return tools[0]
}

/** The result the caller sent back for a tool call, when its last message is one. */
const toolResult = (body: JsonRecord): string | undefined => {
  const items = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : []
  const last: unknown = items[items.length - 1]
  if (!isRecord(last)) return undefined
  if (last.role === "tool") return textOf(last.content)
  if (last.type === "function_call_output") return typeof last.output === "string" ? last.output : textOf(last.output)
  return undefined
}

/** The schema of structured output, `"object"` for JSON mode, or undefined for text. */
const formatOf = (body: JsonRecord): { readonly schema: unknown } | "object" | undefined => {
  const chat = isRecord(body.response_format) ? body.response_format : undefined
  const responses = isRecord(body.text) && isRecord(body.text.format) ? body.text.format : undefined
  const format = chat ?? responses
  if (format === undefined) return undefined
  if (format.type === "json_object") return "object"
  if (format.type !== "json_schema") return undefined
  const inner = isRecord(format.json_schema) ? format.json_schema : format
  return { schema: inner.schema }
}

/**
 * The assistant's output for a request. `idOf` makes deterministic ids; `scripted` (the
 * `x-mock-tool-arguments` header) replaces the generated arguments. @internal
 */
export const outputOf = (
  body: JsonRecord,
  idOf: (prefix: string) => string,
  scripted: string | undefined
): Output => {
  const tools = toolsOf(body)
  const result = toolResult(body)
  const tool = result === undefined ? chosen(body, tools) : "none"
  if (tool !== undefined && tool !== "none") {
    return {
      _tag: "ToolCalls",
      calls: [{
        callId: idOf("call_").slice(0, 29),
        itemId: idOf("fc_"),
        name: tool.name,
        arguments: scripted ?? JSON.stringify(generate(tool.parameters ?? { type: "object", properties: {} }))
      }]
    }
  }
  const text = result ?? replyOf(body)
  const format = formatOf(body)
  if (format === undefined) return { _tag: "Text", text, json: false }
  return {
    _tag: "Text",
    text: JSON.stringify(format === "object" ? { reply: text } : generate(format.schema)),
    json: true
  }
}

/** The text of an output, for the token estimate: the JSON or the arguments. @internal */
export const outputText = (output: Output): string =>
  output._tag === "Text" ? output.text : output.calls.map((c) => c.arguments).join("")
