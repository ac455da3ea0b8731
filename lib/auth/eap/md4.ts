/**
 * MD4 (RFC 1320), needed only for the MS-CHAPv2 NT password hash (RFC 2759 §8.3). OpenSSL 3
 * moved MD4 to the legacy provider, so neither libcrypto nor `node:crypto` can be relied on.
 * MD4 is broken as a general hash; do not use it for anything else.
 */

const INITIAL_STATE = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;
const ROUND2_CONSTANT = 0x5a827999;
const ROUND3_CONSTANT = 0x6ed9eba1;
/** Word order of rounds 2 and 3 (RFC 1320 §3.4). */
const ROUND2_ORDER = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15] as const;
const ROUND3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15] as const;
const ROUND1_SHIFTS = [3, 7, 11, 19] as const;
const ROUND2_SHIFTS = [3, 5, 9, 13] as const;
const ROUND3_SHIFTS = [3, 9, 11, 15] as const;

function rotl(x: number, s: number): number {
  return (x << s) | (x >>> (32 - s));
}

/**
 * The 16-byte MD4 digest of `message`.
 *
 * @example
 * ```ts
 * toHex(md4(new TextEncoder().encode("abc"))); // "a448017aaf21d8525fc10ae87aa6729d"
 * ```
 */
export function md4(message: Uint8Array): Uint8Array {
  // Padding (§3.1-3.2): 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
  const paddedLength = (((message.length + 8) >>> 6) + 1) << 6;
  const padded = new Uint8Array(paddedLength);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bitLength = message.length * 8;
  view.setUint32(paddedLength - 8, bitLength >>> 0, true);
  view.setUint32(paddedLength - 4, Math.floor(bitLength / 0x100000000), true);

  let [a, b, c, d] = INITIAL_STATE as readonly number[] as [number, number, number, number];
  const x = new Array<number>(16);
  for (let block = 0; block < paddedLength; block += 64) {
    for (let i = 0; i < 16; i++) x[i] = view.getUint32(block + i * 4, true);
    const [aa, bb, cc, dd] = [a, b, c, d];

    for (let i = 0; i < 16; i++) {
      const f = (b & c) | (~b & d);
      const t = rotl((a + f + x[i]!) | 0, ROUND1_SHIFTS[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    for (let i = 0; i < 16; i++) {
      const g = (b & c) | (b & d) | (c & d);
      const t = rotl((a + g + x[ROUND2_ORDER[i]!]! + ROUND2_CONSTANT) | 0, ROUND2_SHIFTS[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    for (let i = 0; i < 16; i++) {
      const h = b ^ c ^ d;
      const t = rotl((a + h + x[ROUND3_ORDER[i]!]! + ROUND3_CONSTANT) | 0, ROUND3_SHIFTS[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }

    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  padded.fill(0);

  const digest = new Uint8Array(16);
  const out = new DataView(digest.buffer);
  out.setUint32(0, a >>> 0, true);
  out.setUint32(4, b >>> 0, true);
  out.setUint32(8, c >>> 0, true);
  out.setUint32(12, d >>> 0, true);
  return digest;
}
