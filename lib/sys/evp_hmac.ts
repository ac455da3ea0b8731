/**
 * HMAC over libcrypto's EVP_MAC: one `EVP_MAC_CTX` per key, initialised once with the key and
 * the digest parameter; each computation re-initialises it with a NULL key (which keeps the
 * key), feeds the parts and finalises into a preallocated buffer. No native allocation per call.
 * A context belongs to one thread.
 */
import { LibraryError } from "./errors.ts";
import { cString } from "./libc.ts";
import {
  libcrypto,
  type LibcryptoSymbols,
  opensslError,
  OSSL_PARAM_SIZE,
  OsslParamType,
} from "./libcrypto.ts";

/** Digests HMAC is offered with, by their lower-case names. */
export const HmacDigest = {
  sha1: { openssl: "SHA1", outputLength: 20 },
  sha256: { openssl: "SHA256", outputLength: 32 },
  sha384: { openssl: "SHA384", outputLength: 48 },
  sha512: { openssl: "SHA512", outputLength: 64 },
} as const;

/** A digest name of {@link HmacDigest}. */
export type HmacDigestName = keyof typeof HmacDigest;

let hmacAlgorithm: Deno.PointerObject | undefined;

/** `EVP_MAC_fetch(NULL, "HMAC", NULL)`, once per thread. */
function fetchHmac(s: LibcryptoSymbols): Deno.PointerObject {
  if (hmacAlgorithm === undefined) {
    const mac = s.EVP_MAC_fetch(null, cString("HMAC"), null);
    if (mac === null) throw opensslError("Cannot create HMAC context", "EVP_MAC_fetch(HMAC)");
    hmacAlgorithm = mac;
  }
  return hmacAlgorithm;
}

/**
 * Builds `{ OSSL_PARAM_utf8_string("digest", name), OSSL_PARAM_END }` in one buffer that also
 * holds both strings (the buffer must stay alive for the call that reads it).
 */
function digestParams(name: string): Uint8Array {
  const keyText = cString("digest");
  const valueText = cString(name);
  const keyAt = OSSL_PARAM_SIZE * 2;
  const valueAt = keyAt + keyText.length;
  // One ArrayBuffer above V8's on-heap limit, so its address is stable.
  const block = new Uint8Array(new ArrayBuffer(Math.max(128, valueAt + valueText.length)));
  block.set(keyText, keyAt);
  block.set(valueText, valueAt);
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(block)));
  const view = new DataView(block.buffer);
  view.setBigUint64(0, base + BigInt(keyAt), true); // key
  view.setUint32(8, OsslParamType.OSSL_PARAM_UTF8_STRING, true); // data_type
  view.setBigUint64(16, base + BigInt(valueAt), true); // data
  view.setBigUint64(24, BigInt(valueText.length - 1), true); // data_size, without the NUL
  view.setBigUint64(32, 0xffff_ffff_ffff_ffffn, true); // return_size = OSSL_PARAM_UNMODIFIED
  // Bytes 40..79 stay zero: the OSSL_PARAM_END terminator.
  return block;
}

/**
 * HMAC with a fixed key over one of {@link HmacDigest}.
 *
 * @example
 * ```ts
 * const mac = new EvpHmac("sha256", key);
 * const out = new Uint8Array(16); // HMAC-SHA2-256-128
 * mac.compute([header, body], out);
 * mac.dispose();
 * ```
 */
export class EvpHmac {
  /** Full output length of the hash in bytes. */
  readonly outputLength: number;
  #ctx: Deno.PointerObject | null;
  readonly #s: LibcryptoSymbols;
  readonly #full: Uint8Array;
  readonly #fullSize: bigint;
  /** `size_t *outl` scratch. */
  readonly #outLength = new Uint8Array(8);

  /** Throws `RangeError` for an unknown digest. */
  constructor(digest: HmacDigestName, key: Uint8Array) {
    const spec = HmacDigest[digest];
    if (spec === undefined) {
      throw new RangeError(`Cannot create HMAC context: unsupported digest "${digest}"`);
    }
    const s = libcrypto();
    this.#s = s;
    this.outputLength = spec.outputLength;
    this.#full = new Uint8Array(spec.outputLength);
    this.#fullSize = BigInt(spec.outputLength);
    const ctx = s.EVP_MAC_CTX_new(fetchHmac(s));
    if (ctx === null) throw opensslError("Cannot create HMAC context", "EVP_MAC_CTX_new");
    // A zero-length Uint8Array may reach C as NULL, which EVP_MAC_init reads as "keep the key";
    // an empty key must be a real pointer with length 0.
    const keyBytes = key.length === 0 ? new Uint8Array(1) : key;
    if (s.EVP_MAC_init(ctx, keyBytes, BigInt(key.length), digestParams(spec.openssl)) !== 1) {
      s.EVP_MAC_CTX_free(ctx);
      throw opensslError(`Cannot create HMAC-${spec.openssl} context`, "EVP_MAC_init");
    }
    this.#ctx = ctx;
  }

  /**
   * Computes HMAC over the concatenation of `parts` and writes the first `out.length` bytes
   * (1..{@link outputLength}; truncation as in HMAC-SHA2-256-128) into `out`.
   */
  compute(parts: readonly Uint8Array[], out: Uint8Array): void {
    const ctx = this.#ctx;
    if (ctx === null) throw new LibraryError("Cannot compute HMAC: the context was disposed");
    if (out.length === 0 || out.length > this.outputLength) {
      throw new RangeError(
        `Cannot compute HMAC: output is ${out.length} bytes, expected 1..${this.outputLength}`,
      );
    }
    const s = this.#s;
    if (s.EVP_MAC_reinit(ctx, null, 0n, null) !== 1) {
      throw opensslError("Cannot compute HMAC", "EVP_MAC_init");
    }
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part.length > 0 && s.EVP_MAC_update(ctx, part, BigInt(part.length)) !== 1) {
        throw opensslError("Cannot compute HMAC", "EVP_MAC_update");
      }
    }
    const full = out.length === this.outputLength ? out : this.#full;
    if (s.EVP_MAC_final(ctx, full, this.#outLength, this.#fullSize) !== 1) {
      throw opensslError("Cannot compute HMAC", "EVP_MAC_final");
    }
    if (full !== out) {
      for (let i = 0; i < out.length; i++) out[i] = full[i]!;
    }
  }

  /** Frees the MAC context; later calls throw. Idempotent. */
  dispose(): void {
    if (this.#ctx !== null) this.#s.EVP_MAC_CTX_free(this.#ctx);
    this.#ctx = null;
  }
}
