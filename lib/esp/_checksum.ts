/**
 * RFC 1071 Internet checksum pieces shared by the offload splitter and coalescer. Sums are
 * plain numbers, unfolded: a 64 KiB packet sums to < 2^32 as 16-bit words (< 2^46 as 32-bit
 * words), far below 2^53, so no carry is lost before {@link foldSum}.
 */

/** `IPPROTO_TCP`. */
export const IP_PROTOCOL_TCP = 6;
/** `IPPROTO_UDP`. */
export const IP_PROTOCOL_UDP = 17;
/** TCP header: offset of the checksum field. */
export const TCP_CHECKSUM_OFFSET = 16;
/** UDP header: offset of the checksum field. */
export const UDP_CHECKSUM_OFFSET = 6;
/** TCP header: offset of the flags byte. */
export const TCP_FLAGS_OFFSET = 13;

/** TCP flag bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

import { type ChecksumMemory, checksumMemory } from "./_checksum_wasm.ts";

/** Below this length the byte loop beats setting up the aligned 32-bit loop. */
const WORD_LOOP_MIN_LENGTH = 32;

/** Whole-buffer `Uint32Array` views, so that {@link sumWords} allocates nothing per call. */
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();
let lastBuffer: ArrayBufferLike | undefined;
let lastWords: Uint32Array = new Uint32Array(0);

function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  if (buffer === lastBuffer) return lastWords;
  let words = wordViews.get(buffer);
  if (words === undefined) {
    words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, words);
  }
  lastBuffer = buffer;
  lastWords = words;
  return words;
}

/**
 * Sum of the big-endian 16-bit words of `bytes[start, end)` (an odd tail padded with zero),
 * partly folded: only {@link foldSum} of it (or of sums of such values) is meaningful.
 *
 * The bulk is summed as aligned native (little-endian) 32-bit words through a cached view of
 * the whole buffer, about twice as fast as a byte loop. One's complement sums do not depend on
 * byte order except for a final swap: a little-endian word sum folded to 16 bits is the
 * byte-swapped big-endian sum when the aligned part starts at an even distance from `start`,
 * and already the big-endian sum when the distance is odd (the pairs are shifted by one).
 *
 * Bytes in this thread's checksum memory (`_checksum_wasm.ts`: the workers' packet buffers)
 * are summed there instead, about five times faster; the result is the same once folded.
 */
export function sumWords(bytes: Uint8Array, start: number, end: number): number {
  return sumWordsIn(checksumMemory(), bytes, start, end);
}

/**
 * Copies `src[srcStart, + length)` to `dst[dstStart, + length)` and returns {@link sumWords}
 * of the copied bytes: in one pass in `memory` when both are views into it (and the ranges do
 * not overlap), else a `set` and a sum. The ranges must lie inside the views.
 */
export function copyAndSumWords(
  memory: ChecksumMemory | null,
  dst: Uint8Array,
  dstStart: number,
  src: Uint8Array,
  srcStart: number,
  length: number,
): number {
  if (memory !== null && memory.holds(dst) && memory.holds(src)) {
    return fromLittleEndianSum(memory.copyAndSum(dst, dstStart, src, srcStart, length));
  }
  dst.set(src.subarray(srcStart, srcStart + length), dstStart);
  return sumWordsIn(memory, dst, dstStart, dstStart + length);
}

/** A folded sum of little-endian 16-bit words as the big-endian sum (its bytes swapped). */
function fromLittleEndianSum(littleEndian: number): number {
  return ((littleEndian & 0xff) << 8) | (littleEndian >>> 8);
}

function sumWordsIn(
  memory: ChecksumMemory | null,
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  if (end - start < WORD_LOOP_MIN_LENGTH) return sumBytes(bytes, start, end, start);
  const fast = memory;
  if (fast !== null && bytes.buffer === fast.buffer) {
    return fromLittleEndianSum(fast.sumLittleEndian(bytes, start, end));
  }
  const base = bytes.byteOffset;
  let k = start;
  let sum = 0;
  while (((base + k) & 3) !== 0) {
    sum += ((k - start) & 1) === 0 ? bytes[k]! << 8 : bytes[k]!;
    k++;
  }
  const words = wordsOf(bytes.buffer);
  const first = (base + k) >>> 2;
  const last = first + ((end - k) >>> 2);
  let wordSum = 0;
  for (let w = first; w < last; w++) wordSum += words[w]!;
  let folded = foldSum(wordSum);
  if (((k - start) & 1) === 0) folded = ((folded & 0xff) << 8) | (folded >>> 8);
  sum += folded;
  k += (last - first) * 4;
  return sum + sumBytes(bytes, k, end, start);
}

/** Byte loop of {@link sumWords}: bytes at an even distance from `origin` are high bytes. */
function sumBytes(bytes: Uint8Array, from: number, end: number, origin: number): number {
  let sum = 0;
  let i = from;
  if (((i - origin) & 1) === 1 && i < end) sum += bytes[i++]!;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Folds an unfolded sum to 16 bits with end-around carry (not complemented). */
export function foldSum(sum: number): number {
  sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * Unfolded sum of the addresses and protocol of the pseudo-header (RFC 9293 §3.1, RFC 8200
 * §8.1) of the IP packet at `bytes[start]`; the caller adds the transport length.
 */
export function pseudoHeaderAddressSum(
  bytes: Uint8Array,
  start: number,
  isIpv6: boolean,
  protocol: number,
): number {
  return isIpv6
    ? sumWords(bytes, start + 8, start + 40) + protocol
    : sumWords(bytes, start + 12, start + 20) + protocol;
}

/** Reads a big-endian u16. */
export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** Writes a big-endian u16 (taken modulo 2^16). */
export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value;
}

/** Reads a big-endian u32 as a non-negative number (the address-word reader of ip_prefix.ts). */
export { readAddressWord as readU32 } from "./ip_prefix.ts";

/** Writes a big-endian u32 (taken modulo 2^32). */
export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** Recomputes the IPv4 header checksum of the header at `bytes[start, start + length)`. */
export function setIpv4HeaderChecksum(bytes: Uint8Array, start: number, length: number): void {
  bytes[start + 10] = 0;
  bytes[start + 11] = 0;
  writeU16(bytes, start + 10, ~foldSum(sumWords(bytes, start, start + length)) & 0xffff);
}
