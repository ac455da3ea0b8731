/**
 * The IKEv2 pseudo-random function and its expansion prf+ (RFC 7296 §2.13), over the HMAC of a
 * {@link CryptoProvider}. IKE-only: each call creates a MAC context.
 */
import type { CryptoProvider, HashName } from "./provider.ts";

/** prf+ may run at most 255 iterations: the counter octet is 0x01..0xff (RFC 7296 §2.13). */
export const PRF_PLUS_MAX_ITERATIONS = 255;

/**
 * `prf(key, data)` = HMAC-`hash`(key, data), full output length.
 *
 * @example
 * ```ts
 * const skeyseed = prf(provider, "sha256", concatBytes(ni, nr), sharedSecret);
 * ```
 */
export function prf(
  provider: CryptoProvider,
  hash: HashName,
  key: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const mac = provider.createMac(hash, key);
  try {
    const out = new Uint8Array(mac.outputLength);
    mac.compute([data], out);
    return out;
  } finally {
    mac.dispose();
  }
}

/**
 * `prf+(key, seed)` truncated to `length` bytes: T1 = prf(K, S | 0x01),
 * Tn = prf(K, Tn-1 | S | n), output T1 | T2 | ... Throws `RangeError` when `length` needs more
 * than 255 iterations or is negative.
 *
 * @example
 * ```ts
 * // SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr
 * const keymat = prfPlus(provider, "sha256", skeyseed, seed, 32 * 3 + 36 * 2 + 32 * 2);
 * ```
 */
export function prfPlus(
  provider: CryptoProvider,
  hash: HashName,
  key: Uint8Array,
  seed: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`Cannot expand prf+: length ${length} is not a non-negative integer`);
  }
  const mac = provider.createMac(hash, key);
  try {
    const blockLength = mac.outputLength;
    const iterations = Math.ceil(length / blockLength);
    if (iterations > PRF_PLUS_MAX_ITERATIONS) {
      throw new RangeError(
        `Cannot expand prf+: ${length} bytes need ${iterations} iterations, at most ${PRF_PLUS_MAX_ITERATIONS} allowed`,
      );
    }
    const out = new Uint8Array(iterations * blockLength);
    const counter = new Uint8Array(1);
    let previous = new Uint8Array(0);
    for (let n = 1; n <= iterations; n++) {
      counter[0] = n;
      const block = out.subarray((n - 1) * blockLength, n * blockLength);
      mac.compute([previous, seed, counter], block);
      previous = block;
    }
    return out.slice(0, length);
  } finally {
    mac.dispose();
  }
}
