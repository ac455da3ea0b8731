/** Why an EAP conversation failed; carried in the outcome, never thrown out of `handle()`. */

/**
 * - `malformed`: a packet or method payload failed to decode (`cause` is the DecodeError).
 * - `unexpected`: a well-formed packet that is wrong here (code, identifier, type, OpCode).
 * - `nak`: the other side does not do our method (Nak, or a Request for a type we lack).
 * - `unknown-identity`: the server has no credentials for the identity.
 * - `auth-failed`: the server found the peer's proof wrong (wrong password).
 * - `server-auth-failed`: the peer found the server's MSCHAPv2 authenticator response wrong.
 * - `rejected`: the other side ended it: EAP-Failure or an MSCHAPv2 Failure-Request reached
 *   the peer, or the peer answered the server's MSCHAPv2 Success-Request with a Failure.
 * - `internal`: the credentials lookup or a method threw something other than a DecodeError
 *   (`cause` holds it); a bug, reported instead of thrown.
 */
export type EapFailureReason =
  | "malformed"
  | "unexpected"
  | "nak"
  | "unknown-identity"
  | "auth-failed"
  | "server-auth-failed"
  | "rejected"
  | "internal";

/**
 * An EAP conversation ended in failure. The message never contains a secret.
 *
 * @example
 * ```ts
 * const step = server.handle(packet);
 * if (step.done?.error?.reason === "malformed") counters.eapMalformed++;
 * ```
 */
export class EapError extends Error {
  readonly reason: EapFailureReason;
  constructor(reason: EapFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EapError";
    this.reason = reason;
  }
}

/** An `unexpected` failure: a well-formed packet that is wrong at this point. */
export function unexpected(text: string): EapError {
  return new EapError("unexpected", text);
}

/** The message of a caught value, for wrapping it in an {@link EapError}. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
