/**
 * A crypto provider on `node:crypto` only: no FFI, so it runs in an application that embeds
 * the VPN with nothing but `--allow-net`, and it cross-checks the libcrypto provider in tests.
 * Each call creates a `node:crypto` cipher/HMAC object (25–30× slower than libcrypto per
 * packet): fine for IKE and for embedding, not for a gateway's ESP path. Results are copied
 * back into the caller's arrays so that the in-place contract of the SPI holds.
 */
import { Buffer } from "node:buffer";
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomFillSync,
} from "node:crypto";
import { createDh } from "./dh.ts";
import type {
  AeadContext,
  CbcContext,
  CryptoProvider,
  DhExchange,
  HashName,
  MacContext,
} from "./provider.ts";

const GCM_NONCE_LENGTH = 12;
const GCM_TAG_LENGTH = 16;
const AES_BLOCK_LENGTH = 16;

const HASH_OUTPUT_LENGTH: Readonly<Record<HashName, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** A view of `bytes` as a Buffer, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkAesKey(kind: string, key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 32) {
    throw new RangeError(
      `Cannot create ${kind} context: key is ${key.length} bytes, expected 16 or 32`,
    );
  }
}

function copyInto(target: Uint8Array, first: Uint8Array, second: Uint8Array): void {
  target.set(first);
  target.set(second, first.length);
}

class NodeAesGcm implements AeadContext {
  readonly #algorithm: "aes-128-gcm" | "aes-256-gcm";
  #key: KeyObject | null;

  constructor(key: Uint8Array) {
    checkAesKey("AES-GCM", key);
    this.#algorithm = key.length === 16 ? "aes-128-gcm" : "aes-256-gcm";
    this.#key = createSecretKey(Buffer.from(key));
  }

  seal(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): void {
    const key = this.#usable("seal", nonce, tag);
    const cipher = createCipheriv(this.#algorithm, key, asBuffer(nonce), {
      authTagLength: GCM_TAG_LENGTH,
    });
    cipher.setAAD(asBuffer(aad));
    copyInto(text, cipher.update(asBuffer(text)), cipher.final());
    tag.set(cipher.getAuthTag());
  }

  open(nonce: Uint8Array, aad: Uint8Array, text: Uint8Array, tag: Uint8Array): boolean {
    const key = this.#usable("open", nonce, tag);
    const decipher = createDecipheriv(this.#algorithm, key, asBuffer(nonce), {
      authTagLength: GCM_TAG_LENGTH,
    });
    decipher.setAAD(asBuffer(aad));
    decipher.setAuthTag(Buffer.from(tag));
    const body = decipher.update(asBuffer(text));
    let last: Buffer;
    try {
      last = decipher.final();
    } catch {
      text.fill(0);
      return false;
    }
    copyInto(text, body, last);
    return true;
  }

  #usable(what: string, nonce: Uint8Array, tag: Uint8Array): KeyObject {
    if (this.#key === null) {
      throw new Error(`Cannot ${what} with AES-GCM: the context was disposed`);
    }
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
    return this.#key;
  }

  dispose(): void {
    this.#key = null;
  }
}

class NodeAesCbc implements CbcContext {
  readonly #algorithm: "aes-128-cbc" | "aes-256-cbc";
  #key: KeyObject | null;

  constructor(key: Uint8Array) {
    checkAesKey("AES-CBC", key);
    this.#algorithm = key.length === 16 ? "aes-128-cbc" : "aes-256-cbc";
    this.#key = createSecretKey(Buffer.from(key));
  }

  encrypt(iv: Uint8Array, text: Uint8Array): void {
    const key = this.#usable("encrypt", iv, text);
    const cipher = createCipheriv(this.#algorithm, key, asBuffer(iv)).setAutoPadding(false);
    copyInto(text, cipher.update(asBuffer(text)), cipher.final());
  }

  decrypt(iv: Uint8Array, text: Uint8Array): void {
    const key = this.#usable("decrypt", iv, text);
    const decipher = createDecipheriv(this.#algorithm, key, asBuffer(iv)).setAutoPadding(false);
    copyInto(text, decipher.update(asBuffer(text)), decipher.final());
  }

  #usable(what: string, iv: Uint8Array, text: Uint8Array): KeyObject {
    if (this.#key === null) {
      throw new Error(`Cannot ${what} with AES-CBC: the context was disposed`);
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
    return this.#key;
  }

  dispose(): void {
    this.#key = null;
  }
}

class NodeHmac implements MacContext {
  readonly outputLength: number;
  readonly #hash: HashName;
  #key: KeyObject | null;

  constructor(hash: HashName, key: Uint8Array) {
    const outputLength = HASH_OUTPUT_LENGTH[hash];
    if (outputLength === undefined) {
      throw new RangeError(`Cannot create HMAC context: unsupported digest "${hash}"`);
    }
    this.outputLength = outputLength;
    this.#hash = hash;
    this.#key = createSecretKey(Buffer.from(key));
  }

  compute(parts: readonly Uint8Array[], out: Uint8Array): void {
    if (this.#key === null) throw new Error("Cannot compute HMAC: the context was disposed");
    if (out.length === 0 || out.length > this.outputLength) {
      throw new RangeError(
        `Cannot compute HMAC: output is ${out.length} bytes, expected 1..${this.outputLength}`,
      );
    }
    const hmac = createHmac(this.#hash, this.#key);
    for (const part of parts) hmac.update(asBuffer(part));
    out.set(hmac.digest().subarray(0, out.length));
  }

  dispose(): void {
    this.#key = null;
  }
}

/**
 * {@link CryptoProvider} over `node:crypto` only.
 *
 * @example
 * ```ts
 * const provider = new NodeCryptoProvider();
 * const mac = provider.createMac("sha256", key);
 * mac.compute([data], out);
 * ```
 */
export class NodeCryptoProvider implements CryptoProvider {
  readonly name = "node";

  /** AES-128/256-GCM-16 for a 16/32-byte key (salt excluded); `RangeError` otherwise. */
  createAead(key: Uint8Array): AeadContext {
    return new NodeAesGcm(key);
  }

  /** AES-128/256-CBC without padding for a 16/32-byte key; `RangeError` otherwise. */
  createCbc(key: Uint8Array): CbcContext {
    return new NodeAesCbc(key);
  }

  /** HMAC over `hash` with a fixed `key`. */
  createMac(hash: HashName, key: Uint8Array): MacContext {
    return new NodeHmac(hash, key);
  }

  /** A DH exchange for IKE group 14, 19, 20 or 31; `RangeError` otherwise. */
  createDh(group: number): DhExchange {
    return createDh(group);
  }

  /** Fills `out` with `randomFillSync`. */
  randomBytes(out: Uint8Array): void {
    randomFillSync(out);
  }
}
