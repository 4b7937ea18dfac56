/**
 * A tracer that records every span in memory, for tests of what a call shows an exporter: names,
 * attributes, events and how each span ended.
 */
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"

/** A span as an exporter would receive it. */
export interface RecordedSpan {
  readonly name: string
  readonly attributes: Map<string, unknown>
  /** Events in order: name and attributes. */
  readonly events: Array<readonly [string, Record<string, unknown> | undefined]>
  /** How the span ended; absent while it is open. */
  exit?: Exit.Exit<unknown, unknown>
}

/** Records every span opened under it into `spans`, in the order they open. */
export const recordingTracer = (spans: Array<RecordedSpan>): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const recorded: RecordedSpan = { name, attributes: new Map(), events: [] }
      spans.push(recorded)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        // Valid W3C ids, so a `traceparent` built from them is well formed.
        spanId: spans.length.toString(16).padStart(16, "0"),
        traceId: "0".repeat(31) + "1",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => {
          recorded.exit = exit
        },
        attribute: (key, value) => {
          recorded.attributes.set(key, value)
        },
        event: (eventName, _startTime, attributes) => {
          recorded.events.push([eventName, attributes])
        },
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
