/** Private helpers shared by the payload codecs; not part of the public API. */
import { type ByteReader, DecodeError } from "../../wire/mod.ts";

/** Largest payload body: the generic header's 16-bit length counts its own 4 bytes. */
export const MAX_PAYLOAD_BODY_LENGTH = 0xffff - 4;

/** Throws unless `reader` has been read to its end (a structure must fill its container). */
export function expectEnd(reader: ByteReader, what: string): void {
  if (reader.remaining !== 0) {
    throw new DecodeError(
      `Cannot decode ${what}: ${reader.remaining} unexpected trailing bytes`,
      reader.offset,
    );
  }
}

/** Throws a `RangeError` unless `value` is an integer in `0..max`. */
export function checkField(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot encode ${what}: ${value} is outside 0..${max}`);
  }
}
