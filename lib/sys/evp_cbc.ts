/**
 * AES-CBC without padding over libcrypto EVP, in place (ESP and IKE SK payloads do their own
 * padding). One encryption and one decryption `EVP_CIPHER_CTX` per key, keyed once; each call
 * only sets the IV and runs update/final. A context belongs to one thread.
 */
import { LibraryError } from "./errors.ts";
import {
  createCipherContext,
  libcrypto,
  type LibcryptoSymbols,
  opensslError,
} from "./libcrypto.ts";

/** AES block size and CBC IV length. */
export const AES_BLOCK_LENGTH = 16;

/**
 * An AES-128/256-CBC key (16 or 32 bytes) bound to two EVP contexts with padding disabled.
 *
 * @example
 * ```ts
 * const cbc = new EvpAesCbc(key);
 * cbc.encrypt(iv, blocks); // blocks.length % 16 === 0
 * cbc.decrypt(iv, blocks);
 * cbc.dispose();
 * ```
 */
export class EvpAesCbc {
  #encrypt: Deno.PointerObject | null;
  #decrypt: Deno.PointerObject | null;
  readonly #s: LibcryptoSymbols;
  readonly #outLength = new Uint8Array(4);
  readonly #finalOut = new Uint8Array(32);

  /** Throws `RangeError` for a key that is not 16 or 32 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 16 && key.length !== 32) {
      throw new RangeError(
        `Cannot create AES-CBC context: key is ${key.length} bytes, expected 16 or 32`,
      );
    }
    this.#s = libcrypto();
    const s = this.#s;
    const action = `Cannot create AES-${key.length * 8}-CBC context`;
    const disablePadding = (ctx: Deno.PointerObject) => {
      if (s.EVP_CIPHER_CTX_set_padding(ctx, 0) !== 1) {
        throw opensslError(action, "EVP_CIPHER_CTX_set_padding");
      }
    };
    const cipher = key.length === 16 ? s.EVP_aes_128_cbc() : s.EVP_aes_256_cbc();
    this.#encrypt = createCipherContext(cipher, key, true, action, disablePadding);
    try {
      this.#decrypt = createCipherContext(cipher, key, false, action, disablePadding);
    } catch (e) {
      s.EVP_CIPHER_CTX_free(this.#encrypt);
      throw e;
    }
  }

  /** Encrypts `text` (a multiple of 16 bytes) in place with `iv` (16 bytes). */
  encrypt(iv: Uint8Array, text: Uint8Array): void {
    this.#run(this.#encrypt, "encrypt", iv, text);
  }

  /** Decrypts `text` (a multiple of 16 bytes) in place with `iv` (16 bytes). */
  decrypt(iv: Uint8Array, text: Uint8Array): void {
    this.#run(this.#decrypt, "decrypt", iv, text);
  }

  #run(ctx: Deno.PointerObject | null, what: string, iv: Uint8Array, text: Uint8Array): void {
    if (ctx === null) {
      throw new LibraryError(`Cannot ${what} with AES-CBC: the context was disposed`);
    }
    if (iv.length !== AES_BLOCK_LENGTH) {
      throw new RangeError(
        `Cannot ${what} with AES-CBC: IV is ${iv.length} bytes, expected ${AES_BLOCK_LENGTH}`,
      );
    }
    if (text.length % AES_BLOCK_LENGTH !== 0) {
      throw new RangeError(
        `Cannot ${what} with AES-CBC: text is ${text.length} bytes, not a multiple of 16`,
      );
    }
    const s = this.#s;
    const outLength = this.#outLength;
    if (s.EVP_CipherInit_iv(ctx, null, null, null, iv, -1) !== 1) {
      throw opensslError(`Cannot ${what} with AES-CBC`, "EVP_CipherInit_ex");
    }
    if (text.length > 0 && s.EVP_CipherUpdate(ctx, text, outLength, text, text.length) !== 1) {
      throw opensslError(`Cannot ${what} with AES-CBC`, "EVP_CipherUpdate");
    }
    if (s.EVP_CipherFinal_ex(ctx, this.#finalOut, outLength) !== 1) {
      throw opensslError(`Cannot ${what} with AES-CBC`, "EVP_CipherFinal_ex");
    }
  }

  /** Frees both EVP contexts; later calls throw. Idempotent. */
  dispose(): void {
    if (this.#encrypt !== null) this.#s.EVP_CIPHER_CTX_free(this.#encrypt);
    if (this.#decrypt !== null) this.#s.EVP_CIPHER_CTX_free(this.#decrypt);
    this.#encrypt = null;
    this.#decrypt = null;
  }
}
