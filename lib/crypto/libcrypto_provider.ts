/**
 * The default crypto provider: OpenSSL 3 `libcrypto` through FFI (`lib/sys`). AES-GCM, AES-CBC
 * and HMAC contexts are keyed once and reused per SA without native allocation per call; DH
 * goes through `node:crypto` (IKE only). Needs `--allow-ffi`; a provider instance and its
 * contexts belong to one thread.
 */
import { EvpAesCbc, EvpAesGcm, EvpHmac, libcrypto, randBytes } from "../sys/mod.ts";
import { createDh } from "./dh.ts";
import type {
  AeadContext,
  AeadUse,
  CbcContext,
  CryptoProvider,
  DhExchange,
  HashName,
  MacContext,
} from "./provider.ts";

/**
 * {@link CryptoProvider} over libcrypto. The constructor loads the library and throws
 * `LibraryError` when it is unavailable, so selection can fall back early.
 *
 * @example
 * ```ts
 * const provider = new LibcryptoProvider();
 * const aead = provider.createAead(key); // AES-256-GCM for a 32-byte key
 * aead.seal(nonce, aad, payload, tag);
 * ```
 */
export class LibcryptoProvider implements CryptoProvider {
  readonly name = "libcrypto";

  constructor() {
    libcrypto();
  }

  /**
   * AES-128/256-GCM-16 for a 16/32-byte key (salt excluded); `RangeError` otherwise. Only the
   * EVP context that `use` needs is created.
   */
  createAead(key: Uint8Array, use: AeadUse = "both"): AeadContext {
    return new EvpAesGcm(key, use);
  }

  /** AES-128/256-CBC without padding for a 16/32-byte key; `RangeError` otherwise. */
  createCbc(key: Uint8Array): CbcContext {
    return new EvpAesCbc(key);
  }

  /** HMAC over `hash` with a fixed `key`. */
  createMac(hash: HashName, key: Uint8Array): MacContext {
    return new EvpHmac(hash, key);
  }

  /** A DH exchange for IKE group 14, 19, 20 or 31; `RangeError` otherwise. */
  createDh(group: number): DhExchange {
    return createDh(group);
  }

  /** Fills `out` from OpenSSL's CSPRNG (`RAND_bytes`). */
  randomBytes(out: Uint8Array): void {
    randBytes(out);
  }
}
