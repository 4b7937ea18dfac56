/**
 * A plain Node HTTP server on 127.0.0.1 and a free port, for tests that need a real socket with
 * behaviour the mock does not have (a recording replayed byte for byte, a socket destroyed
 * mid-request). Closing it also drops the connections a client keeps alive, so a test never waits
 * on them.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"

/** A listening server: `origin` is `http://127.0.0.1:<port>`. */
export interface LoopbackServer {
  readonly server: http.Server
  readonly port: number
  readonly origin: string
}

const listen = (handler: http.RequestListener): Promise<LoopbackServer> =>
  new Promise((resolve, reject) => {
    const server = http.createServer(handler)
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({ server, port, origin: `http://127.0.0.1:${port}` })
    })
  })

const close = ({ server }: LoopbackServer): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

/** The server for the life of the scope. */
export const serve = (handler: http.RequestListener): Effect.Effect<LoopbackServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => listen(handler)), (listening) => Effect.promise(() => close(listening)))

/** The server for the life of `use`, for tests written with promises. */
export const withServer = async <A>(handler: http.RequestListener, use: (server: LoopbackServer) => Promise<A>): Promise<A> => {
  const listening = await listen(handler)
  try {
    return await use(listening)
  } finally {
    await close(listening)
  }
}
