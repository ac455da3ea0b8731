/** Errors raised by the wire codecs. */

/**
 * A wire decode failed: the input is truncated, a length field overruns its container, or a
 * value is out of range. Carries the byte offset where the problem was found.
 *
 * @example
 * ```ts
 * throw new DecodeError("Cannot decode Nonce payload: body shorter than 16 bytes", 28);
 * ```
 */
export class DecodeError extends SyntaxError {
  /** Byte offset into the decoded buffer where the problem was detected. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at offset ${offset})`);
    this.name = "DecodeError";
    this.offset = offset;
  }
}
