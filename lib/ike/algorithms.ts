/**
 * Properties of the transforms this release implements: key and block sizes, the hash behind
 * each PRF/integrity transform. Anything not listed here is not negotiable.
 */
import type { HashName } from "../crypto/mod.ts";
import { EncrId, IntegId, PrfId } from "./constants.ts";

export interface EncryptionInfo {
  id: number;
  /** Key length in bits (the Key Length attribute). */
  keyBits: number;
  aead: boolean;
  /** Key material length in bytes, including the 4-byte salt for GCM (RFC 5282 §7.1). */
  keyMaterialLength: number;
  /** Salt bytes at the end of the key material (4 for GCM, 0 for CBC). */
  saltLength: number;
  /** Explicit IV bytes carried in each message. */
  ivLength: number;
  /** Cipher block size used for padding. */
  blockSize: number;
  /** ICV bytes added by an AEAD (0 for CBC). */
  icvLength: number;
}

/** Returns the encryption properties, or undefined when unsupported. */
export function encryptionInfo(
  id: number,
  keyBits: number | undefined,
): EncryptionInfo | undefined {
  if (keyBits !== 128 && keyBits !== 256) return undefined;
  const keyLength = keyBits / 8;
  if (id === EncrId.AesGcm16) {
    return {
      id,
      keyBits,
      aead: true,
      keyMaterialLength: keyLength + 4,
      saltLength: 4,
      ivLength: 8,
      blockSize: 4,
      icvLength: 16,
    };
  }
  if (id === EncrId.AesCbc) {
    return {
      id,
      keyBits,
      aead: false,
      keyMaterialLength: keyLength,
      saltLength: 0,
      ivLength: 16,
      blockSize: 16,
      icvLength: 0,
    };
  }
  return undefined;
}

export interface IntegrityInfo {
  id: number;
  hash: HashName;
  keyLength: number;
  /** Truncated ICV length in bytes. */
  icvLength: number;
}

const INTEGRITY: Record<number, IntegrityInfo> = {
  [IntegId.HmacSha2_256_128]: {
    id: IntegId.HmacSha2_256_128,
    hash: "sha256",
    keyLength: 32,
    icvLength: 16,
  },
  [IntegId.HmacSha2_384_192]: {
    id: IntegId.HmacSha2_384_192,
    hash: "sha384",
    keyLength: 48,
    icvLength: 24,
  },
  [IntegId.HmacSha2_512_256]: {
    id: IntegId.HmacSha2_512_256,
    hash: "sha512",
    keyLength: 64,
    icvLength: 32,
  },
};

/** Returns the integrity properties, or undefined when unsupported. */
export function integrityInfo(id: number): IntegrityInfo | undefined {
  return INTEGRITY[id];
}

export interface PrfInfo {
  id: number;
  hash: HashName;
  /** Preferred key length = output length (RFC 7296 §2.13). */
  keyLength: number;
}

const PRF: Record<number, PrfInfo> = {
  [PrfId.HmacSha2_256]: { id: PrfId.HmacSha2_256, hash: "sha256", keyLength: 32 },
  [PrfId.HmacSha2_384]: { id: PrfId.HmacSha2_384, hash: "sha384", keyLength: 48 },
  [PrfId.HmacSha2_512]: { id: PrfId.HmacSha2_512, hash: "sha512", keyLength: 64 },
};

/** Returns the PRF properties, or undefined when unsupported. */
export function prfInfo(id: number): PrfInfo | undefined {
  return PRF[id];
}
