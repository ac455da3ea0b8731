/**
 * OpenSSL 3 `libcrypto` through Deno FFI: one lazily opened handle per thread. The EVP context
 * wrappers (`evp_gcm.ts`, `evp_cbc.ts`, `evp_hmac.ts`) build on these symbols.
 *
 * Fast-path rules as in `libc.ts`: contexts are `Deno.PointerObject`s kept in fields (no
 * `UnsafePointer.of` per call), lengths of cipher calls are `i32`, 64-bit parameters BigInt.
 * Per-packet calls that need NULL arguments use `pointer`-typed aliases (`EVP_CipherInit_iv`,
 * `EVP_CipherUpdate_aad`, `EVP_MAC_reinit`) and pass `null`: cheaper than `null` into `buffer`.
 */
import { LibraryError } from "./errors.ts";

/** `EVP_CIPHER_CTX_ctrl` commands (openssl/evp.h). */
export const EvpCtrl = {
  /** Sets the GCM IV length (EVP_CTRL_AEAD_SET_IVLEN). */
  EVP_CTRL_GCM_SET_IVLEN: 0x9,
  /** Reads the tag after encryption (EVP_CTRL_AEAD_GET_TAG). */
  EVP_CTRL_GCM_GET_TAG: 0x10,
  /** Sets the expected tag before decryption's final (EVP_CTRL_AEAD_SET_TAG). */
  EVP_CTRL_GCM_SET_TAG: 0x11,
} as const;

/** `OSSL_PARAM` data types (openssl/core.h). */
export const OsslParamType = {
  OSSL_PARAM_INTEGER: 1,
  OSSL_PARAM_UNSIGNED_INTEGER: 2,
  OSSL_PARAM_REAL: 3,
  OSSL_PARAM_UTF8_STRING: 4,
  OSSL_PARAM_OCTET_STRING: 5,
} as const;

/** `sizeof(OSSL_PARAM)` on 64-bit: key ptr, u32 type (+pad), data ptr, size_t size, size_t return_size. */
export const OSSL_PARAM_SIZE = 40;

const LIBCRYPTO_SYMBOLS = {
  OpenSSL_version_num: { parameters: [], result: "u64" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_128_gcm: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_aes_128_cbc: { parameters: [], result: "pointer" },
  EVP_aes_256_cbc: { parameters: [], result: "pointer" },
  /** `(ctx, cipher, engine, key, iv, enc)`; NULL cipher/key keep the current ones, enc -1 too. */
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  /**
   * `EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1)` per packet: NULLs declared as `pointer`
   * (a `null` into a `buffer` parameter costs the slow call path twice over).
   */
  EVP_CipherInit_iv: {
    name: "EVP_CipherInit_ex",
    parameters: ["pointer", "pointer", "pointer", "pointer", "buffer", "i32"],
    result: "i32",
  },
  /** {@link EVP_CipherInit_iv} with the IV at a fixed address (a bound scratch buffer). */
  EVP_CipherInit_ivAt: {
    name: "EVP_CipherInit_ex",
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer", "i32"],
    result: "i32",
  },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
  /** `EVP_CIPHER_CTX_ctrl` with its argument at a fixed address (a bound scratch buffer). */
  EVP_CIPHER_CTX_ctrlAt: {
    name: "EVP_CIPHER_CTX_ctrl",
    parameters: ["pointer", "i32", "i32", "pointer"],
    result: "i32",
  },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  /** `(ctx, out, int *outl, in, inl)`; out NULL feeds AAD. Works in place (out == in). */
  EVP_CipherUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  /** `EVP_CipherUpdate(ctx, NULL, &outl, aad, aadlen)`: feeds AES-GCM's AAD. */
  EVP_CipherUpdate_aad: {
    name: "EVP_CipherUpdate",
    parameters: ["pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  /** `(ctx, out, int *outl)`; for GCM decryption 0 means the tag did not verify. */
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /**
   * A copy of a built-in cipher's method table (deprecated in OpenSSL 3, absent from builds
   * without deprecated APIs, hence optional). A context set up with the copy runs the cipher's
   * own functions directly instead of through the provider layer: see `evp_gcm.ts`.
   */
  EVP_CIPHER_meth_dup: { parameters: ["pointer"], result: "pointer", optional: true },
  EVP_CIPHER_meth_free: { parameters: ["pointer"], result: "void", optional: true },
  /**
   * `(ctx, out, in, inl)`: one call into the cipher (for GCM: out NULL feeds AAD, in NULL
   * finishes; the result is the bytes written, or -1, also for a tag that did not verify).
   */
  EVP_Cipher: { parameters: ["pointer", "buffer", "buffer", "u32"], result: "i32" },
  /** `EVP_Cipher(ctx, NULL, aad, aadlen)`. */
  EVP_Cipher_aad: {
    name: "EVP_Cipher",
    parameters: ["pointer", "pointer", "buffer", "u32"],
    result: "i32",
  },
  /** `EVP_Cipher(ctx, NULL, aad, aadlen)` with the AAD at a fixed address. */
  EVP_Cipher_aadAt: {
    name: "EVP_Cipher",
    parameters: ["pointer", "pointer", "pointer", "u32"],
    result: "i32",
  },
  /** `EVP_Cipher(ctx, NULL, NULL, 0)`: GCM final (computes or checks the tag). */
  EVP_Cipher_final: {
    name: "EVP_Cipher",
    parameters: ["pointer", "pointer", "pointer", "u32"],
    result: "i32",
  },
  /** `(libctx, algorithm, properties)`. */
  EVP_MAC_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_MAC_free: { parameters: ["pointer"], result: "void" },
  EVP_MAC_CTX_new: { parameters: ["pointer"], result: "pointer" },
  EVP_MAC_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_MAC_CTX_get_mac_size: { parameters: ["pointer"], result: "u64" },
  /** `(ctx, key, keylen, params)`; key NULL re-initialises with the key already set. */
  EVP_MAC_init: { parameters: ["pointer", "buffer", "u64", "buffer"], result: "i32" },
  /** `EVP_MAC_init(ctx, NULL, 0, NULL)`: restart with the key already set. */
  EVP_MAC_reinit: {
    name: "EVP_MAC_init",
    parameters: ["pointer", "pointer", "u64", "pointer"],
    result: "i32",
  },
  EVP_MAC_update: { parameters: ["pointer", "buffer", "u64"], result: "i32" },
  /** `(ctx, out, size_t *outl, outsize)`. */
  EVP_MAC_final: { parameters: ["pointer", "buffer", "buffer", "u64"], result: "i32" },
  RAND_bytes: { parameters: ["buffer", "i32"], result: "i32" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_peek_error: { parameters: [], result: "u64" },
  ERR_clear_error: { parameters: [], result: "void" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "u64"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libcrypto functions. */
export type LibcryptoSymbols = Deno.DynamicLibrary<typeof LIBCRYPTO_SYMBOLS>["symbols"];

/** Library names tried in order. */
export const LIBCRYPTO_NAMES: readonly string[] = ["libcrypto.so.3", "libcrypto.so"];

let library: Deno.DynamicLibrary<typeof LIBCRYPTO_SYMBOLS> | undefined;

/**
 * The libcrypto symbols of this thread, loading `libcrypto.so.3` (else `libcrypto.so`) on first
 * use. Throws {@link LibraryError} when neither loads (or `--allow-ffi` is missing).
 *
 * @example
 * ```ts
 * const ok = libcrypto().RAND_bytes(buf, buf.length) === 1;
 * ```
 */
export function libcrypto(): LibcryptoSymbols {
  if (library !== undefined) return library.symbols;
  const failures: string[] = [];
  for (const name of LIBCRYPTO_NAMES) {
    try {
      library = Deno.dlopen(name, LIBCRYPTO_SYMBOLS);
      return library.symbols;
    } catch (e) {
      failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new LibraryError(`Cannot load libcrypto: ${failures.join("; ")}`);
}

/** True when libcrypto can be loaded in this thread (FFI permitted and the library present). */
export function hasLibcrypto(): boolean {
  try {
    libcrypto();
    return true;
  } catch {
    return false;
  }
}

/**
 * Drains OpenSSL's error queue of this thread and returns its texts joined by "; " ("" when the
 * queue was empty). Call on failure paths only.
 */
export function takeOpensslErrors(): string {
  const symbols = libcrypto();
  const texts: string[] = [];
  const buf = new Uint8Array(256);
  for (;;) {
    const code = BigInt(symbols.ERR_get_error());
    if (code === 0n) break;
    symbols.ERR_error_string_n(code, buf, BigInt(buf.length));
    const end = buf.indexOf(0);
    texts.push(new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end)));
  }
  return texts.join("; ");
}

/**
 * A {@link LibraryError} for an EVP call that returned failure, carrying the error queue.
 *
 * @example
 * ```ts
 * if (s.EVP_CIPHER_CTX_set_padding(ctx, 0) !== 1) {
 *   throw opensslError("Cannot create AES-CBC context", "EVP_CIPHER_CTX_set_padding");
 * }
 * ```
 */
export function opensslError(action: string, call: string): LibraryError {
  return new LibraryError(`${action}: ${call} failed`, takeOpensslErrors());
}

/**
 * A new `EVP_CIPHER_CTX` for `cipher` keyed with `key`, for encryption (`encrypt`) or
 * decryption. `configure` runs between selecting the cipher and setting the key (GCM IV
 * length, CBC padding). The caller frees it with `EVP_CIPHER_CTX_free`.
 */
export function createCipherContext(
  cipher: Deno.PointerValue,
  key: Uint8Array,
  encrypt: boolean,
  action: string,
  configure: (ctx: Deno.PointerObject) => void,
): Deno.PointerObject {
  const s = libcrypto();
  if (cipher === null) throw opensslError(action, "EVP_aes_*");
  const ctx = s.EVP_CIPHER_CTX_new();
  if (ctx === null) throw opensslError(action, "EVP_CIPHER_CTX_new");
  try {
    const enc = encrypt ? 1 : 0;
    if (s.EVP_CipherInit_ex(ctx, cipher, null, null, null, enc) !== 1) {
      throw opensslError(action, "EVP_CipherInit_ex");
    }
    configure(ctx);
    if (s.EVP_CipherInit_ex(ctx, null, null, key, null, enc) !== 1) {
      throw opensslError(action, "EVP_CipherInit_ex");
    }
    return ctx;
  } catch (e) {
    s.EVP_CIPHER_CTX_free(ctx);
    throw e;
  }
}

/** Method-table copies made by {@link directCipher}, by the cipher they copy. */
const directCiphers = new Map<bigint, Deno.PointerObject | null>();

/**
 * This thread's copy of `cipher`'s method table (`EVP_CIPHER_meth_dup`), made once; null when
 * this libcrypto has no such call or refuses. Contexts initialised with the copy call the
 * cipher's functions directly (OpenSSL's "legacy" path), skipping the provider dispatch and
 * `OSSL_PARAM` lookups of every per-packet call. Callers check it against the provider path
 * before trusting it: `verify` runs once on a new copy, and a copy it rejects (or that
 * throws) is freed and never offered. Freed by {@link closeLibcrypto}.
 */
export function directCipher(
  cipher: Deno.PointerObject,
  verify: (copy: Deno.PointerObject) => boolean,
): Deno.PointerObject | null {
  const key = BigInt(Deno.UnsafePointer.value(cipher));
  const known = directCiphers.get(key);
  if (known !== undefined) return known;
  const s = libcrypto();
  let copy: Deno.PointerObject | null = null;
  if (s.EVP_CIPHER_meth_dup !== null && s.EVP_CIPHER_meth_free !== null) {
    copy = s.EVP_CIPHER_meth_dup(cipher);
    let trusted = false;
    try {
      trusted = copy !== null && verify(copy);
    } catch {
      trusted = false;
    }
    if (!trusted && copy !== null) s.EVP_CIPHER_meth_free(copy);
    if (!trusted) copy = null;
    s.ERR_clear_error();
  }
  directCiphers.set(key, copy);
  return copy;
}

/** Closes this thread's libcrypto handle (tests). Contexts must have been disposed. */
export function closeLibcrypto(): void {
  for (const copy of directCiphers.values()) {
    if (copy !== null) library?.symbols.EVP_CIPHER_meth_free?.(copy);
  }
  directCiphers.clear();
  library?.close();
  library = undefined;
}
