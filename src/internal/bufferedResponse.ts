/**
 * A web `Response` over a body already read into memory, as `ResilientFetch` hands a client.
 *
 * `new Response(bytes)` wraps the bytes in a `ReadableStream` at once, and the client's
 * `response.json()` then reads them back through it: on loopback that round trip costs about as
 * much as the rest of the adapter. Here the body is kept as bytes: `text()`, `json()`,
 * `arrayBuffer()` and `bytes()` answer from them, and a stream is made only when `body` is read.
 * Everything else (status, headers, `instanceof Response`, "Body is unusable" on a second read) is
 * the platform's.
 * @internal
 */

const decoder = new TextDecoder()

const unusable = () => Promise.reject(new TypeError("Body is unusable: Body has already been read"))

// The class is made on first use: `extends Response` at load time would stop the main entry from
// loading where there is no `Response` (the browser bundle test's bare context).
const makeClass = () =>
  class BufferedResponse extends Response {
    #bytes: Uint8Array<ArrayBuffer>
    #init: ResponseInit
    #stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined
    #used = false

    constructor(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit) {
      super(null, init)
      this.#bytes = bytes
      this.#init = init
    }

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
      if (this.#stream === undefined) {
        const bytes = this.#bytes
        const used = this.#used
        this.#used = true
        this.#stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
          start(controller) {
            if (!used && bytes.byteLength > 0) controller.enqueue(copy(bytes))
            controller.close()
          }
        })
      }
      return this.#stream
    }

    override get bodyUsed(): boolean {
      // Once the stream is out, it is used as soon as anyone reads from it, as with fetch's own.
      return this.#stream === undefined ? this.#used : this.#stream.locked
    }

    /** The bytes, once: any later read fails as fetch's does. */
    #take(): Uint8Array<ArrayBuffer> | undefined {
      if (this.#used) return undefined
      this.#used = true
      return this.#bytes
    }

    override text(): Promise<string> {
      if (this.#stream !== undefined) return this.#fromStream((r) => r.text())
      const bytes = this.#take()
      return bytes === undefined ? unusable() : Promise.resolve(decoder.decode(bytes))
    }

    override json(): Promise<any> {
      // `any`, as the DOM's own `json()` declares it.
      return this.text().then(JSON.parse)
    }

    override arrayBuffer(): Promise<ArrayBuffer> {
      if (this.#stream !== undefined) return this.#fromStream((r) => r.arrayBuffer())
      const bytes = this.#take()
      return bytes === undefined ? unusable() : Promise.resolve(copy(bytes).buffer)
    }

    override bytes(): Promise<Uint8Array<ArrayBuffer>> {
      if (this.#stream !== undefined) return this.#fromStream((r) => r.arrayBuffer()).then((b) => new Uint8Array(b))
      const bytes = this.#take()
      return bytes === undefined ? unusable() : Promise.resolve(copy(bytes))
    }

    override blob(): Promise<Blob> {
      return this.#fromWhole((r) => r.blob())
    }

    override formData(): Promise<FormData> {
      return this.#fromWhole((r) => r.formData())
    }

    override clone(): Response {
      if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.")
      if (this.#stream !== undefined) {
        const [mine, theirs] = this.#stream.tee()
        this.#stream = mine
        return new Response(theirs, this.#init)
      }
      return new (classOf())(this.#bytes, this.#init)
    }

    // Once `body` is out, reads go through it; a stream already read is the same TypeError (the
    // Response constructor throws it, a read must reject with it).
    #fromStream<A>(read: (response: Response) => Promise<A>): Promise<A> {
      try {
        return read(new Response(this.#stream, this.#init))
      } catch (error) {
        return Promise.reject(error)
      }
    }

    // A platform response over the same body, for the reads that need its parsers (a multipart
    // boundary, a blob's type).
    #fromWhole<A>(read: (response: Response) => Promise<A>): Promise<A> {
      if (this.#stream !== undefined) return this.#fromStream(read)
      const bytes = this.#take()
      return bytes === undefined ? unusable() : read(new Response(bytes, this.#init))
    }
  }

// A copy the caller owns: the bytes stay the response's, as a later `clone()` may read them.
const copy = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(bytes.byteLength)
  out.set(bytes)
  return out
}

let made: ReturnType<typeof makeClass> | undefined
const classOf = (): ReturnType<typeof makeClass> => (made ??= makeClass())

/**
 * A `Response` over `bytes`, answering reads from them (see the module's comment).
 * @internal
 */
export const bufferedResponse = (bytes: Uint8Array<ArrayBuffer>, init: ResponseInit): Response => new (classOf())(bytes, init)
