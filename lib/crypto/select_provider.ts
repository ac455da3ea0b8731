/** Choosing the crypto provider at start-up. */
import { hasLibcrypto } from "../sys/mod.ts";
import { LibcryptoProvider } from "./libcrypto_provider.ts";
import { NodeCryptoProvider } from "./node_provider.ts";
import type { CryptoProvider } from "./provider.ts";

/** Which provider to use: `auto` takes libcrypto when FFI and the library are available. */
export type ProviderPreference = "auto" | "libcrypto" | "node";

/**
 * The provider for `preference`. `libcrypto` throws `LibraryError` when the library cannot be
 * loaded; `auto` falls back to `node:crypto` then (e.g. an embedding with `--allow-net` only).
 *
 * @example
 * ```ts
 * const provider = selectCryptoProvider(); // "libcrypto" on a gateway, "node" when embedded
 * ```
 */
export function selectCryptoProvider(preference: ProviderPreference = "auto"): CryptoProvider {
  switch (preference) {
    case "libcrypto":
      return new LibcryptoProvider();
    case "node":
      return new NodeCryptoProvider();
    case "auto":
      return hasFfiPermission() && hasLibcrypto()
        ? new LibcryptoProvider()
        : new NodeCryptoProvider();
  }
}

function hasFfiPermission(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}
