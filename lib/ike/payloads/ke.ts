/**
 * The Key Exchange payload (RFC 7296 §3.4). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Diffie-Hellman Group Num    |           RESERVED            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Key Exchange Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The key data length depends on the group; the engine checks it (INVALID_SYNTAX).
 */
import type { ByteReader, ByteWriter } from "../../wire/mod.ts";
import { PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { KePayload } from "./types.ts";

/**
 * Reads a KE payload body; `keyData` is a copy.
 *
 * @example
 * ```ts
 * decodeKe(bodyReader).dhGroup; // 31
 * ```
 */
export function decodeKe(reader: ByteReader): KePayload {
  const dhGroup = reader.u16("KE payload DH group");
  reader.skip(2, "KE payload reserved field");
  return { type: PayloadType.KeyExchange, dhGroup, keyData: reader.rest() };
}

/**
 * Writes a KE payload body.
 *
 * @example
 * ```ts
 * encodeKe({ type: PayloadType.KeyExchange, dhGroup: 31, keyData: publicKey }, writer);
 * ```
 */
export function encodeKe(value: KePayload, writer: ByteWriter): void {
  checkField(value.dhGroup, 0xffff, "KE payload DH group");
  checkField(keLength(value), MAX_PAYLOAD_BODY_LENGTH, "KE payload length");
  writer.u16(value.dhGroup).u16(0).bytes(value.keyData);
}

/**
 * Length of a KE payload body in bytes.
 *
 * @example
 * ```ts
 * keLength({ type: PayloadType.KeyExchange, dhGroup: 31, keyData: new Uint8Array(32) }); // 36
 * ```
 */
export function keLength(value: KePayload): number {
  return 4 + value.keyData.length;
}
