/**
 * AES-GCM with a 16-byte tag over libcrypto EVP, in place. One encryption and one decryption
 * `EVP_CIPHER_CTX` per key (only the one a key's {@link GcmUse} needs), keyed once; each call
 * only sets the IV and runs update/final, so nothing native is allocated per packet. A context
 * belongs to one thread.
 *
 * Direct path: where libcrypto offers it, the contexts use a copy of the cipher's method table
 * (`directCipher`), and each packet is five thin calls (`EVP_CipherInit_ex` for the IV, then
 * `EVP_Cipher` for AAD, text and final, and the tag `ctrl`) that run OpenSSL's AES-NI GCM code
 * without the provider layer: ≈ 120 ns less per 1400-byte packet on OpenSSL 3.0. Each thread
 * checks the copy once against the provider path (same ciphertext and tag, a forged tag
 * refused) and otherwise uses the provider path. The direct path bypasses a configured FIPS
 * provider; such a deployment sets `RHP_GCM_PROVIDER_ONLY=1`.
 */
import { LibraryError } from "./errors.ts";
import {
  createCipherContext,
  directCipher,
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
 * What a key is used for: an ESP SA's key only seals (outbound) or only opens (inbound), and
 * then the other EVP context is never made (about 1.3 KB of native memory per SA).
 */
export type GcmUse = "seal" | "open" | "both";

/**
 * An AES-128/256-GCM key (16 or 32 bytes, salt excluded) bound to its EVP contexts.
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
  /** Null when disposed or not made for this key's use. */
  #seal: Deno.PointerObject | null;
  #open: Deno.PointerObject | null;
  readonly use: GcmUse;
  #disposed = false;
  /** Whether the contexts run the direct path (see the module comment). */
  readonly direct: boolean;
  readonly #s: LibcryptoSymbols;
  /** `int *outl` scratch. */
  readonly #outLength = new Uint8Array(4);
  /** Output of `EVP_CipherFinal_ex` (GCM writes nothing; sized for safety). */
  readonly #finalOut = new Uint8Array(32);

  /** Throws `RangeError` for a key that is not 16 or 32 bytes. */
  constructor(key: Uint8Array, use: GcmUse = "both") {
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
    const provided = key.length === 16 ? s.EVP_aes_128_gcm() : s.EVP_aes_256_gcm();
    const direct = provided === null ? null : directGcm(provided, key.length);
    const cipher = direct ?? provided;
    this.direct = direct !== null;
    this.use = use;
    this.#seal = use === "open"
      ? null
      : createCipherContext(cipher, key, true, action, setIvLength);
    try {
      this.#open = use === "seal"
        ? null
        : createCipherContext(cipher, key, false, action, setIvLength);
    } catch (e) {
      if (this.#seal !== null) s.EVP_CIPHER_CTX_free(this.#seal);
      throw e;
    }
  }

  /** Why the `what` context is missing: disposed, or not made for this key's use. */
  #unavailable(what: "seal" | "open"): LibraryError {
    return this.#disposed
      ? disposedError(what)
      : new LibraryError(`Cannot ${what} with AES-GCM: this key was set up to ${this.use} only`);
  }

  /** Encrypts `text` in place and writes the 16-byte tag into `tag`. */
  seal(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): void {
    const ctx = this.#seal;
    if (ctx === null) throw this.#unavailable("seal");
    checkLengths("seal", nonce, tag);
    const s = this.#s;
    if (s.EVP_CipherInit_iv(ctx, null, null, null, nonce, -1) !== 1) {
      throw opensslError("Cannot seal with AES-GCM", "EVP_CipherInit_ex");
    }
    if (this.direct) {
      if (
        (aad.length > 0 && s.EVP_Cipher_aad(ctx, null, aad, aad.length) < 0) ||
        (text.length > 0 && s.EVP_Cipher(ctx, text, text, text.length) < 0) ||
        s.EVP_Cipher_final(ctx, null, null, 0) < 0
      ) {
        throw opensslError("Cannot seal with AES-GCM", "EVP_Cipher");
      }
    } else {
      this.#update("seal", ctx, aad, text);
      if (s.EVP_CipherFinal_ex(ctx, this.#finalOut, this.#outLength) !== 1) {
        throw opensslError("Cannot seal with AES-GCM", "EVP_CipherFinal_ex");
      }
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
    if (ctx === null) throw this.#unavailable("open");
    checkLengths("open", nonce, tag);
    const s = this.#s;
    if (s.EVP_CipherInit_iv(ctx, null, null, null, nonce, -1) !== 1) {
      throw opensslError("Cannot open with AES-GCM", "EVP_CipherInit_ex");
    }
    if (this.direct) {
      if (
        (aad.length > 0 && s.EVP_Cipher_aad(ctx, null, aad, aad.length) < 0) ||
        (text.length > 0 && s.EVP_Cipher(ctx, text, text, text.length) < 0)
      ) {
        throw opensslError("Cannot open with AES-GCM", "EVP_Cipher");
      }
    } else {
      this.#update("open", ctx, aad, text);
    }
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EvpCtrl.EVP_CTRL_GCM_SET_TAG, GCM_TAG_LENGTH, tag) !== 1) {
      throw opensslError("Cannot open with AES-GCM", "EVP_CIPHER_CTX_ctrl(SET_TAG)");
    }
    const verified = this.direct
      ? s.EVP_Cipher_final(ctx, null, null, 0) >= 0
      : s.EVP_CipherFinal_ex(ctx, this.#finalOut, this.#outLength) === 1;
    if (!verified) {
      // A tag mismatch leaves nothing on OpenSSL's error queue; clear it anyway so that a
      // flood of forged packets can never grow it.
      s.ERR_clear_error();
      text.fill(0);
      return false;
    }
    return true;
  }

  /**
   * This key bound to fixed `nonce` (12 bytes), `aad` and `tag` (16 bytes) buffers, e.g. an
   * ESP SA's scratch: see {@link BoundGcm}. The buffers must live as long as the result is used
   * (it holds them).
   */
  bind(nonce: Uint8Array, aad: Uint8Array, tag: Uint8Array): BoundGcm {
    checkLengths("bind", nonce, tag);
    if (!this.direct) {
      return {
        seal: (text, length) => this.seal(nonce, aad, text.subarray(0, length), tag),
        open: (text, length) => this.open(nonce, aad, text.subarray(0, length), tag),
      };
    }
    const s = this.#s;
    const noncePointer = Deno.UnsafePointer.of(nonce);
    const aadPointer = aad.length > 0 ? Deno.UnsafePointer.of(aad) : null;
    const tagPointer = Deno.UnsafePointer.of(tag);
    const aadLength = aad.length;
    const bound = {
      /** libcrypto reads and writes these by address: they stay referenced with the closures. */
      scratch: [nonce, aad, tag],
      seal: (text: Uint8Array, length: number) => {
        const ctx = this.#seal;
        if (ctx === null) throw this.#unavailable("seal");
        if (
          s.EVP_CipherInit_ivAt(ctx, null, null, null, noncePointer, -1) !== 1 ||
          (aadLength > 0 && s.EVP_Cipher_aadAt(ctx, null, aadPointer, aadLength) < 0) ||
          (length > 0 && s.EVP_Cipher(ctx, text, text, length) < 0) ||
          s.EVP_Cipher_final(ctx, null, null, 0) < 0 ||
          s.EVP_CIPHER_CTX_ctrlAt(ctx, EvpCtrl.EVP_CTRL_GCM_GET_TAG, GCM_TAG_LENGTH, tagPointer) !==
            1
        ) {
          throw opensslError("Cannot seal with AES-GCM", "EVP_Cipher");
        }
      },
      open: (text: Uint8Array, length: number) => {
        const ctx = this.#open;
        if (ctx === null) throw this.#unavailable("open");
        if (
          s.EVP_CipherInit_ivAt(ctx, null, null, null, noncePointer, -1) !== 1 ||
          (aadLength > 0 && s.EVP_Cipher_aadAt(ctx, null, aadPointer, aadLength) < 0) ||
          (length > 0 && s.EVP_Cipher(ctx, text, text, length) < 0) ||
          s.EVP_CIPHER_CTX_ctrlAt(ctx, EvpCtrl.EVP_CTRL_GCM_SET_TAG, GCM_TAG_LENGTH, tagPointer) !==
            1
        ) {
          throw opensslError("Cannot open with AES-GCM", "EVP_Cipher");
        }
        if (s.EVP_Cipher_final(ctx, null, null, 0) < 0) {
          s.ERR_clear_error();
          text.fill(0, 0, length);
          return false;
        }
        return true;
      },
    };
    return bound;
  }

  /** AAD and text through `EVP_CipherUpdate` (the provider path). */
  #update(what: string, ctx: Deno.PointerObject, aad: Uint8Array, text: Uint8Array): void {
    const s = this.#s;
    const outLength = this.#outLength;
    if (aad.length > 0 && s.EVP_CipherUpdate_aad(ctx, null, outLength, aad, aad.length) !== 1) {
      throw opensslError(`Cannot ${what} with AES-GCM`, "EVP_CipherUpdate(AAD)");
    }
    if (text.length > 0 && s.EVP_CipherUpdate(ctx, text, outLength, text, text.length) !== 1) {
      throw opensslError(`Cannot ${what} with AES-GCM`, "EVP_CipherUpdate");
    }
  }

  /** Frees both EVP contexts; later calls throw. Idempotent. */
  dispose(): void {
    if (this.#seal !== null) this.#s.EVP_CIPHER_CTX_free(this.#seal);
    if (this.#open !== null) this.#s.EVP_CIPHER_CTX_free(this.#open);
    this.#seal = null;
    this.#open = null;
    this.#disposed = true;
  }
}

/**
 * A GCM key bound to fixed nonce, AAD and tag buffers ({@link EvpAesGcm.bind}): each packet
 * passes only a view that *starts* at its text (it may run on, e.g. to the end of a send slot)
 * and the text length. On the direct path libcrypto reaches the scratch by fixed addresses: no
 * view and one buffer argument per packet instead of four.
 */
export interface BoundGcm {
  /** Encrypts `text[0, length)` in place with the bound nonce and AAD; the tag goes to the bound tag. */
  seal(text: Uint8Array, length: number): void;
  /**
   * Decrypts `text[0, length)` in place against the bound tag; false (and those bytes zeroed)
   * when it does not verify.
   */
  open(text: Uint8Array, length: number): boolean;
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

/** Set to 1, it keeps AES-GCM on the provider path (scripts/permissions.sh allows reading it). */
const PROVIDER_ONLY_ENV = "RHP_GCM_PROVIDER_ONLY";

/** Key, nonce, AAD and text of the direct-path check (arbitrary fixed bytes). */
const CHECK_KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const CHECK_NONCE = Uint8Array.from({ length: GCM_NONCE_LENGTH }, (_, i) => 0xa0 + i);
const CHECK_AAD = Uint8Array.from({ length: 8 }, (_, i) => 0x50 + i);
const CHECK_TEXT_LENGTH = 1403;

/**
 * This thread's verified direct GCM cipher for `provided` (EVP_aes_128_gcm or _256_gcm, whose
 * keys are `keyLength` bytes), or null: the copy must seal a 1403-byte text to the same ciphertext and tag as the provider
 * path, open it again, and refuse it with one tag bit flipped.
 */
function directGcm(provided: Deno.PointerObject, keyLength: number): Deno.PointerObject | null {
  if (providerOnly()) return null;
  return directCipher(provided, (copy) => {
    const s = libcrypto();
    const key = CHECK_KEY.subarray(0, keyLength);
    const text = () => Uint8Array.from({ length: CHECK_TEXT_LENGTH }, (_, i) => (i * 31) & 0xff);
    const contexts: Deno.PointerObject[] = [];
    const context = (cipher: Deno.PointerObject, encrypt: boolean) => {
      const ctx = createCipherContext(cipher, key, encrypt, "Cannot check AES-GCM", (c) => {
        s.EVP_CIPHER_CTX_ctrl(c, EvpCtrl.EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LENGTH, null);
      });
      contexts.push(ctx);
      return ctx;
    };
    try {
      const outLength = new Uint8Array(4);
      const expected = text();
      const expectedTag = new Uint8Array(GCM_TAG_LENGTH);
      const seal = context(provided, true);
      if (
        s.EVP_CipherInit_iv(seal, null, null, null, CHECK_NONCE, -1) !== 1 ||
        s.EVP_CipherUpdate_aad(seal, null, outLength, CHECK_AAD, CHECK_AAD.length) !== 1 ||
        s.EVP_CipherUpdate(seal, expected, outLength, expected, expected.length) !== 1 ||
        s.EVP_CipherFinal_ex(seal, new Uint8Array(32), outLength) !== 1 ||
        s.EVP_CIPHER_CTX_ctrl(seal, EvpCtrl.EVP_CTRL_GCM_GET_TAG, 16, expectedTag) !== 1
      ) {
        return false;
      }
      const sealed = text();
      const tag = new Uint8Array(GCM_TAG_LENGTH);
      const direct = context(copy, true);
      if (
        s.EVP_CipherInit_iv(direct, null, null, null, CHECK_NONCE, -1) !== 1 ||
        s.EVP_Cipher_aad(direct, null, CHECK_AAD, CHECK_AAD.length) < 0 ||
        s.EVP_Cipher(direct, sealed, sealed, sealed.length) < 0 ||
        s.EVP_Cipher_final(direct, null, null, 0) < 0 ||
        s.EVP_CIPHER_CTX_ctrl(direct, EvpCtrl.EVP_CTRL_GCM_GET_TAG, 16, tag) !== 1 ||
        !sameBytes(sealed, expected) || !sameBytes(tag, expectedTag)
      ) {
        return false;
      }
      const open = context(copy, false);
      const opens = (candidate: Uint8Array) => {
        const buffer = expected.slice();
        return s.EVP_CipherInit_iv(open, null, null, null, CHECK_NONCE, -1) === 1 &&
          s.EVP_Cipher_aad(open, null, CHECK_AAD, CHECK_AAD.length) >= 0 &&
          s.EVP_Cipher(open, buffer, buffer, buffer.length) >= 0 &&
          s.EVP_CIPHER_CTX_ctrl(open, EvpCtrl.EVP_CTRL_GCM_SET_TAG, 16, candidate) === 1 &&
          s.EVP_Cipher_final(open, null, null, 0) >= 0 && sameBytes(buffer, text());
      };
      const forged = expectedTag.slice();
      forged[5]! ^= 0x10;
      return opens(expectedTag) && !opens(forged) && opens(expectedTag);
    } finally {
      for (const ctx of contexts) s.EVP_CIPHER_CTX_free(ctx);
    }
  });
}

/** `RHP_GCM_PROVIDER_ONLY=1`; false when unset or not readable (no `--allow-env` for it). */
function providerOnly(): boolean {
  try {
    const query = { name: "env", variable: PROVIDER_ONLY_ENV } as const;
    if (Deno.permissions.querySync(query).state !== "granted") return false;
    return Deno.env.get(PROVIDER_ONLY_ENV) === "1";
  } catch {
    return false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
