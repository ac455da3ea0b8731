/**
 * The Authentication payload (RFC 7296 §3.8). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Auth Method   |                RESERVED                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Authentication Data                      ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
import type { ByteReader, ByteWriter } from "../../wire/mod.ts";
import { PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { AuthPayload } from "./types.ts";

/**
 * Reads an AUTH payload body; `data` is a copy.
 *
 * @example
 * ```ts
 * decodeAuth(bodyReader).method; // 2 (shared key MIC)
 * ```
 */
export function decodeAuth(reader: ByteReader): AuthPayload {
  const method = reader.u8("AUTH payload method");
  reader.skip(3, "AUTH payload reserved field");
  return { type: PayloadType.Authentication, method, data: reader.rest() };
}

/**
 * Writes an AUTH payload body.
 *
 * @example
 * ```ts
 * encodeAuth({ type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data: mac }, w);
 * ```
 */
export function encodeAuth(value: AuthPayload, writer: ByteWriter): void {
  checkField(value.method, 0xff, "AUTH payload method");
  checkField(authLength(value), MAX_PAYLOAD_BODY_LENGTH, "AUTH payload length");
  writer.u8(value.method).zeros(3).bytes(value.data);
}

/**
 * Length of an AUTH payload body in bytes.
 *
 * @example
 * ```ts
 * authLength({ type: PayloadType.Authentication, method: 2, data: new Uint8Array(32) }); // 36
 * ```
 */
export function authLength(value: AuthPayload): number {
  return 4 + value.data.length;
}
