/**
 * The Encrypted and Authenticated payload SK (RFC 7296 §3.14), wire form only. Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * |         (length is block size for encryption algorithm)       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Encrypted IKE Payloads                     ~
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               |             Padding (0-255 octets)            |
 * +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
 * |                                               |  Pad Length   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Integrity Checksum Data                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The SK generic header's Next Payload is the type of the first encrypted payload
 * (`innerFirst`). The SK payload is always last, so in a decoded message its body ends the
 * datagram: the bytes covered as associated data / by the ICV start at offset 0 and the body
 * starts at `datagram.length - body.length`. Encryption and padding belong to the engine.
 */
import type { ByteReader, ByteWriter } from "../../wire/mod.ts";
import { PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { EncryptedPayload } from "./types.ts";

/**
 * Reads an SK payload body (a copy of IV | ciphertext | ICV).
 *
 * @example
 * ```ts
 * const sk = decodeEncrypted(bodyReader, generic.nextPayload);
 * ```
 */
export function decodeEncrypted(reader: ByteReader, innerFirst: number): EncryptedPayload {
  return { type: PayloadType.Encrypted, innerFirst, body: reader.rest() };
}

/**
 * Writes an SK payload body (the raw bytes; `innerFirst` goes into the generic header).
 *
 * @example
 * ```ts
 * encodeEncrypted({ type: PayloadType.Encrypted, innerFirst: PayloadType.IdInitiator, body }, w);
 * ```
 */
export function encodeEncrypted(value: EncryptedPayload, writer: ByteWriter): void {
  checkField(encryptedLength(value), MAX_PAYLOAD_BODY_LENGTH, "SK payload length");
  writer.bytes(value.body);
}

/**
 * Length of an SK payload body in bytes.
 *
 * @example
 * ```ts
 * encryptedLength(sk); // iv + ciphertext + icv
 * ```
 */
export function encryptedLength(value: EncryptedPayload): number {
  return value.body.length;
}
