/**
 * Inbound ESP (RFC 4303 §3.4), in the RFC's order: length sanity, SPI, replay check (§3.4.3),
 * ICV (§3.4.4), replay window update, decryption, padding and next header (§2.4, §2.6). Bad
 * input never throws: it returns an {@link EspDropReason}, counted on the SA.
 */
import {
  ESP_HEADER_LENGTH,
  ESP_TRAILER_LENGTH,
  EspDropReason,
  GCM_IV_LENGTH,
  NextHeader,
} from "./constants.ts";
import type { DecapResult, EspSa } from "./sa.ts";
import { espSpiOf } from "./udp_encap.ts";

/**
 * Verifies and decrypts one ESP packet for the inbound `sa`. Decrypts in place in `esp`, or
 * into `out` when given (then `esp` is left intact). On success returns the SA's reused
 * {@link DecapResult} (valid until the next call on this SA); otherwise a drop reason.
 * `textView` may be a view of the same memory starting where the text starts (after header and
 * IV; it may run on): used in place of a new view when it is one, ignored otherwise.
 *
 * @example
 * ```ts
 * const r = decapsulate(sa, datagram);
 * if (typeof r !== "number") device.write(r.packet);
 * ```
 */
export function decapsulate(
  sa: EspSa,
  esp: Uint8Array,
  out?: Uint8Array,
  textView?: Uint8Array,
): DecapResult | EspDropReason {
  const counters = sa.counters;
  const s = sa.state;
  const textStart = ESP_HEADER_LENGTH + sa.ivLength;
  const textEnd = esp.length - sa.icvLength;
  const textLength = textEnd - textStart;
  if (
    sa.direction !== "in" || sa.disposed || textLength < ESP_TRAILER_LENGTH ||
    textLength % (s.aead ? 1 : sa.blockSize) !== 0
  ) {
    counters.add("dropMalformed");
    return EspDropReason.Malformed;
  }
  if (espSpiOf(esp) !== sa.spi) {
    counters.add("dropWrongSpi");
    return EspDropReason.WrongSpi;
  }
  const seq = ((esp[4]! << 24) | (esp[5]! << 16) | (esp[6]! << 8) | esp[7]!) >>> 0;
  const window = sa.replayWindow;
  if (window && !window.check(seq)) {
    counters.add("dropReplay");
    return EspDropReason.Replay;
  }
  let target = esp;
  let base = textStart;
  if (out) {
    if (out.length < textLength) {
      counters.add("dropNoRoom");
      return EspDropReason.NoRoom;
    }
    target = out;
    base = 0;
  }
  // A caller's view of the text (made once per receive slot) saves making one per packet; only
  // a bound AEAD takes a view that runs past the text.
  const text = !out && s.boundAead !== null && textView !== undefined &&
      textView.buffer === esp.buffer && textView.byteOffset === esp.byteOffset + textStart
    ? textView
    : target.subarray(base, base + textLength);

  if (s.aead) {
    const nonce = s.nonce;
    const aad = s.aad;
    for (let i = 0; i < GCM_IV_LENGTH; i++) nonce[4 + i] = esp[ESP_HEADER_LENGTH + i]!;
    for (let i = 0; i < ESP_HEADER_LENGTH; i++) aad[i] = esp[i]!;
    if (out) out.set(esp.subarray(textStart, textEnd));
    const tag = s.tag;
    for (let i = 0; i < tag.length; i++) tag[i] = esp[textEnd + i]!;
    const opened = s.boundAead !== null
      ? s.boundAead.open(text, textLength)
      : s.aead.open(nonce, aad, text, tag);
    if (!opened) {
      counters.add("dropAuth");
      return EspDropReason.Auth;
    }
  } else {
    const icv = s.icv;
    s.macParts[0] = esp.subarray(0, textEnd);
    s.mac!.compute(s.macParts, icv);
    let diff = 0;
    for (let i = 0; i < icv.length; i++) diff |= icv[i]! ^ esp[textEnd + i]!;
    if (diff !== 0) {
      counters.add("dropAuth");
      return EspDropReason.Auth;
    }
    const iv = s.iv;
    for (let i = 0; i < iv.length; i++) iv[i] = esp[ESP_HEADER_LENGTH + i]!;
    if (out) out.set(esp.subarray(textStart, textEnd));
    s.cbc!.decrypt(iv, text);
  }
  // Authentic: only now may the window move (RFC 4303 §3.4.3).
  window?.update(seq);

  const nextHeader = text[textLength - 1]!;
  const padLength = text[textLength - 2]!;
  const length = textLength - ESP_TRAILER_LENGTH - padLength;
  if (length < 0) {
    counters.add("dropPadding");
    return EspDropReason.Padding;
  }
  for (let i = 0; i < padLength; i++) {
    if (text[length + i] !== i + 1) {
      counters.add("dropPadding");
      return EspDropReason.Padding;
    }
  }
  if (nextHeader === NextHeader.NoNext) {
    counters.add("dropDummy");
    return EspDropReason.Dummy;
  }
  counters.add("packets");
  counters.add("bytes", length);
  const result = s.result;
  result.packet = target.subarray(base, base + length);
  result.nextHeader = nextHeader;
  return result;
}
