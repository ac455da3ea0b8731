/**
 * Cryptography: the provider SPI, the libcrypto (FFI) and `node:crypto` providers, DH groups
 * and the IKEv2 prf/prf+.
 *
 * @example
 * ```ts
 * import { prfPlus, selectCryptoProvider } from "./lib/crypto/mod.ts";
 * const provider = selectCryptoProvider();
 * const keymat = prfPlus(provider, "sha256", skeyseed, seed, 160);
 * ```
 */
export type {
  AeadContext,
  AeadUse,
  BoundAead,
  CbcContext,
  CryptoProvider,
  DhExchange,
  HashName,
  MacContext,
} from "./provider.ts";
export { LibcryptoProvider } from "./libcrypto_provider.ts";
export { NodeCryptoProvider } from "./node_provider.ts";
export { selectCryptoProvider } from "./select_provider.ts";
export type { ProviderPreference } from "./select_provider.ts";
export { createDh, DhGroupSpec, dhPublicKeyLength, isSupportedDhGroup } from "./dh.ts";
export type { DhOptions, SupportedDhGroup } from "./dh.ts";
export { prf, PRF_PLUS_MAX_ITERATIONS, prfPlus } from "./prf.ts";
