/**
 * A web `Response` over a body already read into memory, as `ResilientFetch` hands a client.
 *
 * `new Response(bytes)` wraps the bytes in a `ReadableStream` at once, and the client's
 * `response.json()` then reads them back through it: on loopback that round trip costs about as
 * much as the rest of the adapter. Here the body is kept as bytes: `text()`, `json()`,
 * `arrayBuffer()` and `bytes()` answer from them; once `body` is read, a platform `Response` over
 * the same bytes answers everything. Everything else (status, headers, `instanceof Response`,
 * "Body is unusable" on a second read) is the platform's.
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
    // Once `body` is read, a platform Response over the same bytes answers everything, so that
    // streams, `bodyUsed` and second reads are exactly the platform's.
    #native: Response | undefined
    #used = false

    constructor(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit) {
      super(null, init)
      this.#bytes = bytes
      this.#init = init
    }

    #platform(): Response {
      if (this.#native === undefined) {
        if (this.#used) {
          // Already read through the fast path: a body that is spent, as the platform's would be.
          const spent = new Response(new Uint8Array(0), this.#init)
          void spent.arrayBuffer()
          this.#native = spent
        } else {
          this.#native = new Response(this.#bytes, this.#init)
        }
      }
      return this.#native
    }

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      return this.#platform().body
    }

    override get bodyUsed(): boolean {
      return this.#native === undefined ? this.#used : this.#native.bodyUsed
    }

    /** The bytes, once: any later read fails as fetch's does. */
    // The bytes stay the response's (a clone may still read them): reads hand out copies.
    #take(): Uint8Array<ArrayBuffer> | undefined {
      if (this.#used) return undefined
      this.#used = true
      return this.#bytes
    }

    override text(): Promise<string> {
      if (this.#native !== undefined) return this.#native.text()
      const bytes = this.#take()
      return bytes === undefined ? unusable() : Promise.resolve(decoder.decode(bytes))
    }

    override json(): Promise<any> {
      // `any`, as the DOM's own `json()` declares it.
      if (this.#native !== undefined) return this.#native.json()
      return this.text().then(JSON.parse)
    }

    override arrayBuffer(): Promise<ArrayBuffer> {
      if (this.#native !== undefined) return this.#native.arrayBuffer()
      const bytes = this.#take()
      return bytes === undefined ? unusable() : Promise.resolve(bytes.slice().buffer)
    }

    override bytes(): Promise<Uint8Array<ArrayBuffer>> {
      if (this.#native !== undefined) return this.#native.arrayBuffer().then((b) => new Uint8Array(b))
      const bytes = this.#take()
      return bytes === undefined ? unusable() : Promise.resolve(bytes.slice())
    }

    override blob(): Promise<Blob> {
      return this.#platform().blob()
    }

    override formData(): Promise<FormData> {
      return this.#platform().formData()
    }

    override clone(): Response {
      if (this.#native !== undefined) return this.#native.clone()
      if (this.#used) throw new TypeError("Response.clone: Body has already been consumed.")
      return new (classOf())(this.#bytes, this.#init)
    }
  }

let made: ReturnType<typeof makeClass> | undefined
const classOf = (): ReturnType<typeof makeClass> => (made ??= makeClass())

/**
 * A `Response` over `bytes`, answering reads from them (see the module's comment).
 * @internal
 */
export const bufferedResponse = (bytes: Uint8Array<ArrayBuffer>, init: ResponseInit): Response => new (classOf())(bytes, init)
