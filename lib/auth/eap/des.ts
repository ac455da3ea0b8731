/**
 * Single-DES encryption of one 8-byte block (FIPS 46-3), needed only for the MS-CHAPv2
 * ChallengeResponse (RFC 2759 §8.5). OpenSSL 3 keeps DES-ECB in the legacy provider, which
 * neither libcrypto nor this Deno's `node:crypto` loads. DES is broken as a cipher; do not use
 * it for anything else. Written for clarity over speed: three blocks per authentication.
 */

// Tables of FIPS 46-3, bit positions 1-based from the most significant bit.
// deno-fmt-ignore
const INITIAL_PERMUTATION = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
  62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
  61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
] as const;

// deno-fmt-ignore
const FINAL_PERMUTATION = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
  38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
  36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
  34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
] as const;

// deno-fmt-ignore
const EXPANSION = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
  16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
] as const;

// deno-fmt-ignore
const PERMUTATION = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
  2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
] as const;

// deno-fmt-ignore
const PERMUTED_CHOICE_1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
  10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
  63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
  14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
] as const;

// deno-fmt-ignore
const PERMUTED_CHOICE_2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
  41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
] as const;

const KEY_SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1] as const;

/** S1..S8, each 4 rows of 16. */
// deno-fmt-ignore
const S_BOXES = [
  [
    14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
    0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
    15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
  ],
  [
    15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
    3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
    13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
  ],
  [
    10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
    13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
    1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
  ],
  [
    7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
    13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
    3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
  ],
  [
    2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
    14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
    11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
  ],
  [
    12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
    10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
    4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
  ],
  [
    4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
    13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
    6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
  ],
  [
    13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
    1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
    2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
  ],
] as const;

/** Bits of `bytes` as an array of 0/1, most significant bit first. */
function toBits(bytes: Uint8Array): Uint8Array {
  const bits = new Uint8Array(bytes.length * 8);
  for (let i = 0; i < bits.length; i++) bits[i] = (bytes[i >>> 3]! >>> (7 - (i & 7))) & 1;
  return bits;
}

function fromBits(bits: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(bits.length >>> 3);
  for (let i = 0; i < bits.length; i++) bytes[i >>> 3]! |= bits[i]! << (7 - (i & 7));
  return bytes;
}

function permute(bits: Uint8Array, table: readonly number[]): Uint8Array {
  const out = new Uint8Array(table.length);
  for (let i = 0; i < table.length; i++) out[i] = bits[table[i]! - 1]!;
  return out;
}

function rotateLeft(half: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = half[(i + n) % half.length]!;
  return out;
}

/** The 16 48-bit round keys (FIPS 46-3, "Key Schedule Calculation"); parity bits ignored. */
function roundKeys(key: Uint8Array): Uint8Array[] {
  const cd = permute(toBits(key), PERMUTED_CHOICE_1);
  let c = cd.subarray(0, 28);
  let d = cd.subarray(28, 56);
  const keys: Uint8Array[] = [];
  for (const shift of KEY_SHIFTS) {
    c = rotateLeft(c, shift);
    d = rotateLeft(d, shift);
    const joined = new Uint8Array(56);
    joined.set(c);
    joined.set(d, 28);
    keys.push(permute(joined, PERMUTED_CHOICE_2));
  }
  return keys;
}

/** The cipher function f(R, K). */
function feistel(right: Uint8Array, roundKey: Uint8Array): Uint8Array {
  const e = permute(right, EXPANSION);
  const s = new Uint8Array(32);
  for (let box = 0; box < 8; box++) {
    const b = e.subarray(box * 6, box * 6 + 6).map((bit, i) => bit ^ roundKey[box * 6 + i]!);
    const row = (b[0]! << 1) | b[5]!;
    const column = (b[1]! << 3) | (b[2]! << 2) | (b[3]! << 1) | b[4]!;
    const value = S_BOXES[box]![row * 16 + column]!;
    for (let i = 0; i < 4; i++) s[box * 4 + i] = (value >>> (3 - i)) & 1;
  }
  return permute(s, PERMUTATION);
}

/**
 * Encrypts one 8-byte block with an 8-byte DES key (ECB, no padding).
 *
 * @example
 * ```ts
 * toHex(desEncryptBlock(fromHex("0123456789abcdef"), fromHex("4e6f772069732074")));
 * // "3fa40e8a984d4815" (FIPS 81 Appendix B)
 * ```
 */
export function desEncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  if (key.length !== 8 || block.length !== 8) {
    throw new RangeError(
      `Cannot DES-encrypt: key is ${key.length} and block ${block.length} bytes, expected 8 and 8`,
    );
  }
  const keys = roundKeys(key);
  const bits = permute(toBits(block), INITIAL_PERMUTATION);
  let left = bits.slice(0, 32);
  let right = bits.slice(32, 64);
  for (const k of keys) {
    const f = feistel(right, k);
    const next = left.map((bit, i) => bit ^ f[i]!);
    left = right;
    right = next;
  }
  // The last round's halves are not swapped: preoutput = R16 L16.
  const preoutput = new Uint8Array(64);
  preoutput.set(right);
  preoutput.set(left, 32);
  for (const k of keys) k.fill(0);
  return fromBits(permute(preoutput, FINAL_PERMUTATION));
}

/**
 * Expands a 7-byte (56-bit) key into an 8-byte DES key, seven key bits per byte followed by
 * an odd-parity bit (RFC 2759 §8.6 DesEncrypt; the parity bit is ignored by DES).
 *
 * @example
 * ```ts
 * toHex(expandDesKey(fromHex("ffffffffffffff"))); // "fefefefefefefefe"
 * ```
 */
export function expandDesKey(key7: Uint8Array): Uint8Array {
  if (key7.length !== 7) {
    throw new RangeError(`Cannot expand DES key: ${key7.length} bytes, expected 7`);
  }
  const bits = toBits(key7);
  const key = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    let byte = 0;
    let ones = 0;
    for (let j = 0; j < 7; j++) {
      const bit = bits[i * 7 + j]!;
      byte |= bit << (7 - j);
      ones += bit;
    }
    key[i] = byte | ((ones & 1) === 0 ? 1 : 0);
  }
  bits.fill(0);
  return key;
}
