/** The providers every crypto test runs against (both must give identical answers). */
import { LibcryptoProvider } from "../../lib/crypto/libcrypto_provider.ts";
import { NodeCryptoProvider } from "../../lib/crypto/node_provider.ts";
import type { CryptoProvider } from "../../lib/crypto/provider.ts";

export const libcryptoProvider: CryptoProvider = new LibcryptoProvider();
export const nodeProvider: CryptoProvider = new NodeCryptoProvider();
export const PROVIDERS: readonly CryptoProvider[] = [libcryptoProvider, nodeProvider];

const encoder = new TextEncoder();

/** UTF-8 bytes of `text` (RFC vectors given as ASCII). */
export function ascii(text: string): Uint8Array {
  return encoder.encode(text);
}
