/** Random bytes from libcrypto's CSPRNG (`RAND_bytes`). */
import { libcrypto, opensslError } from "./libcrypto.ts";

/** Largest request passed to one `RAND_bytes` call (its length is an `int`). */
const RAND_CHUNK = 1 << 30;

/**
 * Fills `out` with cryptographically strong random bytes; throws {@link LibraryError} if the
 * generator fails (it never returns predictable bytes silently).
 *
 * @example
 * ```ts
 * const nonce = new Uint8Array(32);
 * randBytes(nonce);
 * ```
 */
export function randBytes(out: Uint8Array): void {
  const s = libcrypto();
  for (let at = 0; at < out.length; at += RAND_CHUNK) {
    const chunk = out.subarray(at, Math.min(out.length, at + RAND_CHUNK));
    if (s.RAND_bytes(chunk, chunk.length) !== 1) {
      throw opensslError("Cannot generate random bytes", "RAND_bytes");
    }
  }
}
