/**
 * The errors Node's HTTP client carries when the network fails, as both test clients raise them.
 *
 * @internal
 */

/** A reset connection: `read ECONNRESET`, code `ECONNRESET`. @internal */
export const connectionReset = (): Error & { readonly code: string; readonly errno: number; readonly syscall: string } =>
  Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" })

/** A body cut off part-way: `aborted`, code `ECONNRESET`. @internal */
export const streamCut = (): Error & { readonly code: string } =>
  Object.assign(new Error("aborted"), { code: "ECONNRESET" })
