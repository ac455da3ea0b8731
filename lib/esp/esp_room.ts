/**
 * How much room ESP leaves for the inner packet (RFC 4303 §2): the fixed header, the explicit
 * IV, the padding to the cipher's block size, the 2-byte trailer and the ICV, per negotiable
 * ESP suite. Used to size a tunnel's MTU before any SA exists.
 */
import { encryptionInfo, integrityInfo } from "../ike/mod.ts";
import type { EspSuite } from "../ike/mod.ts";
import { ESP_HEADER_LENGTH, ESP_TRAILER_LENGTH } from "./constants.ts";

/** What ESP with one suite adds around an inner packet. */
export interface EspFraming {
  /** Explicit IV bytes in each packet: 8 (GCM) or 16 (CBC). */
  ivLength: number;
  /** The ciphertext (inner packet + padding + trailer) is a multiple of this: 4 or 16. */
  blockSize: number;
  /** ICV bytes at the end: the GCM tag or the truncated HMAC. */
  icvLength: number;
}

/** The framing of `suite`; throws `RangeError` for a suite this data path cannot run. */
export function espFraming(suite: EspSuite): EspFraming {
  const encr = encryptionInfo(suite.encrId, suite.encrKeyBits);
  if (!encr) throw new RangeError(`Cannot frame ESP suite "${suite.name}": unsupported encryption`);
  if (encr.aead) {
    return { ivLength: encr.ivLength, blockSize: encr.blockSize, icvLength: encr.icvLength };
  }
  const integ = integrityInfo(suite.integId);
  if (!integ || integ.icvLength === 0) {
    throw new RangeError(`Cannot frame ESP suite "${suite.name}": unsupported integrity`);
  }
  return { ivLength: encr.ivLength, blockSize: encr.blockSize, icvLength: integ.icvLength };
}

/**
 * The largest inner packet whose ESP packet with `framing` (minimal padding, no TFC padding)
 * is at most `room` bytes; negative when not even an empty one fits.
 *
 * @example
 * ```ts
 * largestInnerLength(espFraming(ESP_SUITES.get("aes256gcm16")!), 1472); // 1438: ESP 1472
 * ```
 */
export function largestInnerLength(framing: EspFraming, room: number): number {
  const text = room - ESP_HEADER_LENGTH - framing.ivLength - framing.icvLength;
  const padded = text - (text % framing.blockSize);
  return padded - ESP_TRAILER_LENGTH;
}
