/**
 * The crypto provider SPI. The IKE engine and the ESP data path use only these interfaces;
 * `libcrypto` (FFI, the default) and a pure-JS/`node:crypto` provider (for `--allow-net`
 * embedding) implement them. All operations are synchronous. Contexts hold a key and are
 * reused for the life of an SA; a context must not be shared between threads.
 */

export type HashName = "sha1" | "sha256" | "sha384" | "sha512";

/** AES-GCM with a 16-byte tag (RFC 4106 / RFC 5282); the key excludes the 4-byte salt. */
export interface AeadContext {
  /** Encrypts `text` in place; writes the 16-byte tag into `tag`. `nonce` is 12 bytes. */
  seal(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): void;
  /** Decrypts `text` in place; returns false (text undefined) when the tag does not verify. */
  open(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): boolean;
  /**
   * Optional: this key bound to fixed nonce, AAD and tag buffers (which it holds), for a per-
   * packet path that passes only where the text starts and its length (see {@link BoundAead}).
   */
  bind?(nonce: Uint8Array, aad: Uint8Array, tag: Uint8Array): BoundAead;
  dispose(): void;
}

/**
 * An {@link AeadContext} bound to fixed nonce, AAD and tag buffers: `text` is a view that starts
 * at the text and may run on past `length` (e.g. a prebuilt view to the end of a packet slot).
 */
export interface BoundAead {
  /** Encrypts `text[0, length)` in place; the tag goes to the bound tag buffer. */
  seal(text: Uint8Array, length: number): void;
  /** Decrypts `text[0, length)` in place against the bound tag; false (bytes zeroed) if forged. */
  open(text: Uint8Array, length: number): boolean;
}

/** AES-CBC without padding; `text.length` must be a multiple of 16. */
export interface CbcContext {
  /** Encrypts `text` in place with `iv` (16 bytes). */
  encrypt(iv: Uint8Array, text: Uint8Array): void;
  /** Decrypts `text` in place with `iv` (16 bytes). */
  decrypt(iv: Uint8Array, text: Uint8Array): void;
  dispose(): void;
}

/** HMAC with a fixed key. */
export interface MacContext {
  /** Full output length of the hash in bytes. */
  readonly outputLength: number;
  /**
   * Computes HMAC over the concatenation of `parts` and writes the first `out.length` bytes
   * (truncation, e.g. 16 for HMAC-SHA2-256-128) into `out`.
   */
  compute(parts: readonly Uint8Array[], out: Uint8Array): void;
  dispose(): void;
}

/** One Diffie-Hellman exchange: a fresh private key and its public value. */
export interface DhExchange {
  readonly group: number;
  /** Public value in IKE KE payload encoding (RFC 7296 §3.4, RFC 5903 §7, RFC 8031 §3.1). */
  readonly publicKey: Uint8Array;
  /**
   * The shared secret g^ir in IKE encoding (RFC 5903 §7: x coordinate only for ECP).
   * Throws `RangeError` on a malformed peer value.
   */
  computeSecret(peerPublic: Uint8Array): Uint8Array;
}

/**
 * What an AEAD key is used for: an ESP or IKE key only ever seals (outbound) or only opens
 * (inbound), so a provider may set up only that half (`"both"` by default).
 */
export type AeadUse = "seal" | "open" | "both";

export interface CryptoProvider {
  readonly name: string;
  /** A call of the half that `use` leaves out throws. */
  createAead(key: Uint8Array, use?: AeadUse): AeadContext;
  createCbc(key: Uint8Array): CbcContext;
  createMac(hash: HashName, key: Uint8Array): MacContext;
  /** A new DH exchange for an IKE DH group number; throws `RangeError` if unsupported. */
  createDh(group: number): DhExchange;
  /** Fills `out` with cryptographically strong random bytes. */
  randomBytes(out: Uint8Array): void;
}
