/**
 * AES-GCM with a 16-byte tag over libcrypto EVP, in place. One encryption and one decryption
 * `EVP_CIPHER_CTX` per key, keyed once; each call only sets the IV and runs update/final, so
 * nothing native is allocated per packet. A context belongs to one thread.
 */
import { LibraryError } from "./errors.ts";
import {
  createCipherContext,
  EvpCtrl,
  libcrypto,
  type LibcryptoSymbols,
  opensslError,
} from "./libcrypto.ts";

/** GCM nonce length used by IKE and ESP (4-byte salt + 8-byte IV, RFC 4106 §4). */
export const GCM_NONCE_LENGTH = 12;
/** Tag length of the `-16` ICV variants (RFC 4106, RFC 5282). */
export const GCM_TAG_LENGTH = 16;

/**
 * An AES-128/256-GCM key (16 or 32 bytes, salt excluded) bound to two EVP contexts.
 *
 * @example
 * ```ts
 * const gcm = new EvpAesGcm(key);
 * gcm.seal(nonce, aad, text, tag); // text is now ciphertext
 * gcm.open(nonce, aad, text, tag); // true, text is plaintext again
 * gcm.dispose();
 * ```
 */
export class EvpAesGcm {
  #seal: Deno.PointerObject | null;
  #open: Deno.PointerObject | null;
  readonly #s: LibcryptoSymbols;
  /** `int *outl` scratch. */
  readonly #outLength = new Uint8Array(4);
  /** Output of `EVP_CipherFinal_ex` (GCM writes nothing; sized for safety). */
  readonly #finalOut = new Uint8Array(32);

  /** Throws `RangeError` for a key that is not 16 or 32 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 16 && key.length !== 32) {
      throw new RangeError(
        `Cannot create AES-GCM context: key is ${key.length} bytes, expected 16 or 32`,
      );
    }
    this.#s = libcrypto();
    const s = this.#s;
    const action = `Cannot create AES-${key.length * 8}-GCM context`;
    const setIvLength = (ctx: Deno.PointerObject) => {
      if (
        s.EVP_CIPHER_CTX_ctrl(ctx, EvpCtrl.EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LENGTH, null) !== 1
      ) {
        throw opensslError(action, "EVP_CIPHER_CTX_ctrl(SET_IVLEN)");
      }
    };
    const cipher = key.length === 16 ? s.EVP_aes_128_gcm() : s.EVP_aes_256_gcm();
    this.#seal = createCipherContext(cipher, key, true, action, setIvLength);
    try {
      this.#open = createCipherContext(cipher, key, false, action, setIvLength);
    } catch (e) {
      s.EVP_CIPHER_CTX_free(this.#seal);
      throw e;
    }
  }

  /** Encrypts `text` in place and writes the 16-byte tag into `tag`. */
  seal(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): void {
    const ctx = this.#seal;
    if (ctx === null) throw disposedError("seal");
    checkLengths("seal", nonce, tag);
    const s = this.#s;
    const outLength = this.#outLength;
    if (s.EVP_CipherInit_iv(ctx, null, null, null, nonce, -1) !== 1) {
      throw opensslError("Cannot seal with AES-GCM", "EVP_CipherInit_ex");
    }
    if (aad.length > 0 && s.EVP_CipherUpdate_aad(ctx, null, outLength, aad, aad.length) !== 1) {
      throw opensslError("Cannot seal with AES-GCM", "EVP_CipherUpdate(AAD)");
    }
    if (text.length > 0 && s.EVP_CipherUpdate(ctx, text, outLength, text, text.length) !== 1) {
      throw opensslError("Cannot seal with AES-GCM", "EVP_CipherUpdate");
    }
    if (s.EVP_CipherFinal_ex(ctx, this.#finalOut, outLength) !== 1) {
      throw opensslError("Cannot seal with AES-GCM", "EVP_CipherFinal_ex");
    }
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EvpCtrl.EVP_CTRL_GCM_GET_TAG, GCM_TAG_LENGTH, tag) !== 1) {
      throw opensslError("Cannot seal with AES-GCM", "EVP_CIPHER_CTX_ctrl(GET_TAG)");
    }
  }

  /**
   * Decrypts `text` in place; returns false when the tag does not verify, in which case `text`
   * is zeroed so that unauthenticated plaintext never escapes.
   */
  open(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): boolean {
    const ctx = this.#open;
    if (ctx === null) throw disposedError("open");
    checkLengths("open", nonce, tag);
    const s = this.#s;
    const outLength = this.#outLength;
    if (s.EVP_CipherInit_iv(ctx, null, null, null, nonce, -1) !== 1) {
      throw opensslError("Cannot open with AES-GCM", "EVP_CipherInit_ex");
    }
    if (aad.length > 0 && s.EVP_CipherUpdate_aad(ctx, null, outLength, aad, aad.length) !== 1) {
      throw opensslError("Cannot open with AES-GCM", "EVP_CipherUpdate(AAD)");
    }
    if (text.length > 0 && s.EVP_CipherUpdate(ctx, text, outLength, text, text.length) !== 1) {
      throw opensslError("Cannot open with AES-GCM", "EVP_CipherUpdate");
    }
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EvpCtrl.EVP_CTRL_GCM_SET_TAG, GCM_TAG_LENGTH, tag) !== 1) {
      throw opensslError("Cannot open with AES-GCM", "EVP_CIPHER_CTX_ctrl(SET_TAG)");
    }
    if (s.EVP_CipherFinal_ex(ctx, this.#finalOut, outLength) !== 1) {
      // A tag mismatch leaves nothing on OpenSSL's error queue; clear it anyway so that a
      // flood of forged packets can never grow it.
      s.ERR_clear_error();
      text.fill(0);
      return false;
    }
    return true;
  }

  /** Frees both EVP contexts; later calls throw. Idempotent. */
  dispose(): void {
    if (this.#seal !== null) this.#s.EVP_CIPHER_CTX_free(this.#seal);
    if (this.#open !== null) this.#s.EVP_CIPHER_CTX_free(this.#open);
    this.#seal = null;
    this.#open = null;
  }
}

function checkLengths(what: string, nonce: Uint8Array, tag: Uint8Array): void {
  if (nonce.length !== GCM_NONCE_LENGTH) {
    throw new RangeError(
      `Cannot ${what} with AES-GCM: nonce is ${nonce.length} bytes, expected ${GCM_NONCE_LENGTH}`,
    );
  }
  if (tag.length !== GCM_TAG_LENGTH) {
    throw new RangeError(
      `Cannot ${what} with AES-GCM: tag is ${tag.length} bytes, expected ${GCM_TAG_LENGTH}`,
    );
  }
}

function disposedError(what: string): LibraryError {
  return new LibraryError(`Cannot ${what} with AES-GCM: the context was disposed`);
}
