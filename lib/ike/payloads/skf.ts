/**
 * The Encrypted Fragment payload SKF (RFC 7383 §2.5), the fields in front of the encrypted
 * part. Body layout after the generic header:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Fragment Number        |        Total Fragments        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Encrypted content                        ~
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               |             Padding (0-255 octets)            |
 * +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
 * |                                               |  Pad Length   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Integrity Checksum Data                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The generic header's Next Payload is the first inner payload type in fragment 1 and 0 in
 * the others. The two numbers are covered by the ICV (they precede the IV). The message codec
 * keeps SKF as an `OpaquePayload`; this file reads and writes the numbers in its body.
 */
import { DecodeError } from "../../wire/mod.ts";
import { checkField } from "./_common.ts";

/** Fragment Number and Total Fragments: the bytes in front of the IV. */
export const FRAGMENT_FIELDS_LENGTH = 4;

/** The numbers an SKF payload carries in front of its encrypted part. */
export interface FragmentNumbers {
  /** 1-based position of this fragment. */
  number: number;
  /** How many fragments the message was split into. */
  total: number;
}

/**
 * Reads Fragment Number and Total Fragments from an SKF body and checks
 * 1 ≤ number ≤ total (RFC 7383 §2.5).
 *
 * @example
 * ```ts
 * const { number, total } = decodeFragmentNumbers(skf.body);
 * ```
 */
export function decodeFragmentNumbers(body: Uint8Array): FragmentNumbers {
  if (body.length < FRAGMENT_FIELDS_LENGTH) {
    throw new DecodeError(
      `Cannot decode SKF payload: ${body.length} bytes is shorter than its fragment numbers`,
      0,
    );
  }
  const number = (body[0]! << 8) | body[1]!;
  const total = (body[2]! << 8) | body[3]!;
  if (number === 0 || total === 0 || number > total) {
    throw new DecodeError(
      `Cannot decode SKF payload: fragment ${number} of ${total} is out of range`,
      0,
    );
  }
  return { number, total };
}

/**
 * Writes Fragment Number and Total Fragments (4 bytes) into `out` at `offset`.
 *
 * @example
 * ```ts
 * encodeFragmentNumbers({ number: 1, total: 3 }, out, ivStart - 4);
 * ```
 */
export function encodeFragmentNumbers(
  value: FragmentNumbers,
  out: Uint8Array,
  offset: number,
): void {
  checkField(value.total, 0xffff, "SKF total fragments");
  if (!Number.isInteger(value.number) || value.number < 1 || value.number > value.total) {
    throw new RangeError(
      `Cannot encode SKF fragment number: ${value.number} is outside 1..${value.total}`,
    );
  }
  out[offset] = value.number >> 8;
  out[offset + 1] = value.number & 0xff;
  out[offset + 2] = value.total >> 8;
  out[offset + 3] = value.total & 0xff;
}
