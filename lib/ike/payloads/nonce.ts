/**
 * The Nonce payload (RFC 7296 §3.9). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                            Nonce Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Nonce Data MUST be between 16 and 256 octets; both directions enforce it.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { NONCE_MAX_LENGTH, NONCE_MIN_LENGTH, PayloadType } from "../constants.ts";
import type { NoncePayload } from "./types.ts";

/**
 * Reads a Nonce payload body (a copy), rejecting fewer than 16 or more than 256 bytes.
 *
 * @example
 * ```ts
 * decodeNonce(bodyReader).nonce.length; // 32
 * ```
 */
export function decodeNonce(reader: ByteReader): NoncePayload {
  const n = reader.remaining;
  if (n < NONCE_MIN_LENGTH || n > NONCE_MAX_LENGTH) {
    throw new DecodeError(
      `Cannot decode Nonce payload: ${n} bytes is outside ${NONCE_MIN_LENGTH}..${NONCE_MAX_LENGTH}`,
      reader.offset,
    );
  }
  return { type: PayloadType.Nonce, nonce: reader.rest() };
}

/**
 * Writes a Nonce payload body; throws `RangeError` outside 16..256 bytes.
 *
 * @example
 * ```ts
 * encodeNonce({ type: PayloadType.Nonce, nonce: crypto.getRandomValues(new Uint8Array(32)) }, w);
 * ```
 */
export function encodeNonce(value: NoncePayload, writer: ByteWriter): void {
  const n = value.nonce.length;
  if (n < NONCE_MIN_LENGTH || n > NONCE_MAX_LENGTH) {
    throw new RangeError(
      `Cannot encode Nonce payload: ${n} bytes is outside ${NONCE_MIN_LENGTH}..${NONCE_MAX_LENGTH}`,
    );
  }
  writer.bytes(value.nonce);
}

/**
 * Length of a Nonce payload body in bytes.
 *
 * @example
 * ```ts
 * nonceLength({ type: PayloadType.Nonce, nonce: new Uint8Array(32) }); // 32
 * ```
 */
export function nonceLength(value: NoncePayload): number {
  return value.nonce.length;
}
