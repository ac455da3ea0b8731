/**
 * Outbound ESP (RFC 4303 §3.3), tunnel mode:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Security Parameters Index (SPI)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Sequence Number                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                IV (GCM: 8 bytes = 64-bit seq; CBC: 16 random)  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ^
 * |                inner IP packet (encrypted)                    |  |
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  | ciphertext
 * |               |  Padding 1, 2, 3, ... (0-255 bytes)           |  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |
 * |                               |  Pad Length   | Next Header   |  v
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Integrity Check Value (GCM tag / truncated HMAC)       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * GCM (RFC 4106): nonce = salt | IV, AAD = SPI | seq; the IV is the sequence number, unique per
 * SA and key (§3.1). CBC + HMAC (RFC 3602, RFC 4868): the ICV covers SPI | seq | IV |
 * ciphertext (encrypt-then-MAC, RFC 4303 §3.3.2).
 */
import { EncapFailure, ESP_HEADER_LENGTH, ESP_TRAILER_LENGTH, NextHeader } from "./constants.ts";
import type { EspSa } from "./sa.ts";

/** Bytes of the ESP packet that {@link encapsulate} builds for an inner packet of `length`. */
export function encapsulatedLength(sa: EspSa, length: number): number {
  const payload = length + ESP_TRAILER_LENGTH;
  const padded = payload + (sa.blockSize - (payload % sa.blockSize)) % sa.blockSize;
  return ESP_HEADER_LENGTH + sa.ivLength + padded + sa.icvLength;
}

/**
 * Encrypts `packet` (an IPv4 or IPv6 packet, or the payload named by `nextHeader`) into `out`
 * starting at offset 0 and returns the ESP packet length, or a negative {@link EncapFailure}
 * (counted on the SA). Allocates nothing but array views.
 *
 * @example
 * ```ts
 * const n = encapsulate(sa, ipPacket, buffer);
 * if (n > 0) await socket.send(buffer.subarray(0, n), sa.remote);
 * ```
 */
export function encapsulate(
  sa: EspSa,
  packet: Uint8Array,
  out: Uint8Array,
  nextHeader?: number,
): number {
  if (sa.direction !== "out" || sa.disposed) return EncapFailure.WrongSa;
  const nh = nextHeader ?? innerNextHeader(sa, packet, 0, packet.length);
  if (nh < 0) return nh;
  const textStart = encapsulatedTextStart(sa);
  if (textStart + packet.length > out.length) {
    sa.counters.add("dropTooBig");
    return EncapFailure.TooBig;
  }
  out.set(packet, textStart);
  return encapsulateInPlace(sa, out, packet.length, nh);
}

/**
 * The next header of the inner packet at `bytes[start, start + length)` (IPv4 or IPv6), or
 * {@link EncapFailure.UnknownNextHeader}, counted on the SA.
 */
function innerNextHeader(sa: EspSa, bytes: Uint8Array, start: number, length: number): number {
  const version = length > 0 ? bytes[start]! >> 4 : 0;
  if (version === 4) return NextHeader.Ipv4;
  if (version === 6) return NextHeader.Ipv6;
  sa.counters.add("dropMalformed");
  return EncapFailure.UnknownNextHeader;
}

/** Where {@link encapsulateInPlace} expects the inner packet: after the ESP header and IV. */
export function encapsulatedTextStart(sa: EspSa): number {
  return ESP_HEADER_LENGTH + sa.ivLength;
}

/**
 * {@link encapsulate} for an inner packet of `length` bytes that already sits in `out` at
 * {@link encapsulatedTextStart} (e.g. a GSO segment split straight into a send slot): saves
 * the copy. Same result and failures. `text` may be a view of `out` from
 * {@link encapsulatedTextStart} on (e.g. made once per send slot): used in place of a new view
 * per packet when it is one, ignored otherwise.
 */
export function encapsulateInPlace(
  sa: EspSa,
  out: Uint8Array,
  length: number,
  nextHeader?: number,
  text?: Uint8Array,
): number {
  if (sa.direction !== "out" || sa.disposed) return EncapFailure.WrongSa;
  const textStart = ESP_HEADER_LENGTH + sa.ivLength;
  const nh = nextHeader ?? innerNextHeader(sa, out, textStart, length);
  if (nh < 0) return nh;

  const payload = length + ESP_TRAILER_LENGTH;
  const padLength = (sa.blockSize - (payload % sa.blockSize)) % sa.blockSize;
  const textEnd = textStart + payload + padLength;
  const total = textEnd + sa.icvLength;
  if (total > out.length) {
    sa.counters.add("dropTooBig");
    return EncapFailure.TooBig;
  }
  const seq = sa.nextSequence();
  if (seq === 0) {
    sa.counters.add("dropSequenceExhausted");
    return EncapFailure.SequenceExhausted;
  }

  const spi = sa.spi;
  out[0] = spi >>> 24;
  out[1] = spi >>> 16;
  out[2] = spi >>> 8;
  out[3] = spi;
  out[4] = seq >>> 24;
  out[5] = seq >>> 16;
  out[6] = seq >>> 8;
  out[7] = seq;

  let at = textStart + length;
  for (let i = 1; i <= padLength; i++) out[at++] = i;
  out[at++] = padLength;
  out[at] = nh;

  const s = sa.state;
  if (s.aead) {
    // Explicit IV = 64-bit sequence number, big-endian (high half 0 without ESN).
    const nonce = s.nonce;
    const aad = s.aad;
    for (let i = 0; i < 4; i++) {
      out[ESP_HEADER_LENGTH + i] = 0;
      nonce[4 + i] = 0;
      out[ESP_HEADER_LENGTH + 4 + i] = out[4 + i]!;
      nonce[8 + i] = out[4 + i]!;
    }
    for (let i = 0; i < ESP_HEADER_LENGTH; i++) aad[i] = out[i]!;
    const tag = s.tag;
    if (s.boundAead !== null) {
      const view = text !== undefined && text.buffer === out.buffer &&
          text.byteOffset === out.byteOffset + textStart
        ? text
        : out.subarray(textStart);
      s.boundAead.seal(view, textEnd - textStart);
    } else {
      s.aead.seal(nonce, aad, out.subarray(textStart, textEnd), tag);
    }
    for (let i = 0; i < tag.length; i++) out[textEnd + i] = tag[i]!;
  } else {
    const iv = sa.takeCbcIv();
    out.set(iv, ESP_HEADER_LENGTH);
    s.cbc!.encrypt(iv, out.subarray(textStart, textEnd));
    s.macParts[0] = out.subarray(0, textEnd);
    s.mac!.compute(s.macParts, out.subarray(textEnd, total));
  }
  sa.counters.add("packets");
  sa.counters.add("bytes", length);
  return total;
}
