/**
 * The machinery of {@link Simulation}: a min-heap of wake-ups, a scheduler whose queue we drain
 * ourselves, and a Clock whose time jumps to the next wake-up once nothing is left to run.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { RuntimeFiber } from "effect/Fiber"
import type * as Scheduler from "effect/Scheduler"

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

/** A binary min-heap on (at, seq): wake-ups in time order, ties in the order they were asked. */
export class Heap {
  private readonly items: Array<Sleeper> = []
  get size(): number {
    return this.items.length
  }
  peek(): Sleeper | undefined {
    return this.items[0]
  }
  private less(a: Sleeper, b: Sleeper): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
  push(item: Sleeper): void {
    const items = this.items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = items[parent]
      if (p === undefined || !this.less(item, p)) break
      items[i] = p
      i = parent
    }
    items[i] = item
  }
  pop(): Sleeper | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let smallest = last
      let at = i
      const left = items[l]
      const right = items[r]
      if (left !== undefined && this.less(left, smallest)) {
        smallest = left
        at = l
      }
      if (right !== undefined && this.less(right, smallest)) {
        smallest = right
        at = r
      }
      if (at === i) break
      items[i] = smallest
      i = at
    }
    items[i] = last
    return top
  }
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Runs every fiber's work from a queue drained here, so "nothing left to run" is known exactly. */
export class SimScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  shouldYield(fiber: RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > 2048 ? 0 : false
  }
  scheduleTask(task: Scheduler.Task): void {
    this.queue.push(task)
  }
  /** Runs queued work until none is left, letting promise callbacks settle in between. */
  async drain(): Promise<void> {
    for (;;) {
      while (this.queue.length > 0) {
        const batch = this.queue
        this.queue = []
        for (const task of batch) task()
      }
      // Work outside Effect's scheduler (promise callbacks, web streams) settles before a setImmediate.
      await immediate()
      if (this.queue.length === 0) return
    }
  }
}

/** A discrete-event Clock: sleeps go into the heap; {@link SimClock.runUntil} moves time. */
export class SimClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now = 0
  private seq = 0
  private readonly heap = new Heap()
  /** How many distinct instants time has jumped to. */
  steps = 0

  constructor(readonly scheduler: SimScheduler, start = 0) {
    this.now = start
  }

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.unsafeCurrentTimeMillis())
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const sleeper: Sleeper = {
        at: this.now + Math.max(0, Duration.toMillis(duration)),
        seq: this.seq++,
        wake: () => resume(Effect.void),
        cancelled: false
      }
      this.heap.push(sleeper)
      // Interrupted while asleep: the wake-up is dropped.
      return Effect.sync(() => {
        sleeper.cancelled = true
      })
    })
  }

  /** Whether any wake-up is pending. */
  get pending(): boolean {
    this.dropCancelled()
    return this.heap.size > 0
  }

  private dropCancelled(): void {
    let next = this.heap.peek()
    while (next !== undefined && next.cancelled) {
      this.heap.pop()
      next = this.heap.peek()
    }
  }

  /**
   * Advances time wake-up by wake-up, each time once every fiber is asleep or blocked, and stops at
   * `end` (time is then `end`) or when nobody is asleep any more.
   */
  async runUntil(end: number, stop: () => boolean = () => false): Promise<void> {
    for (;;) {
      await this.scheduler.drain()
      if (stop()) return
      this.dropCancelled()
      const next = this.heap.peek()
      if (next === undefined || next.at > end) {
        this.now = Math.max(this.now, Math.min(end, next?.at ?? end))
        return
      }
      this.now = Math.max(this.now, next.at)
      this.steps++
      while (this.heap.peek()?.at === this.now) {
        const sleeper = this.heap.pop()
        if (sleeper !== undefined && !sleeper.cancelled) sleeper.wake()
      }
    }
  }
}
