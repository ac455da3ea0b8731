/**
 * IKE SA and child SA key derivation (RFC 7296 §2.13, §2.14, §2.17).
 *
 * SKEYSEED = prf(Ni | Nr, g^ir)                       (IKE_SA_INIT)
 * SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)   (IKE SA rekey, §2.18)
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
 * KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken as encr_i | integ_i | encr_r | integ_r
 */
import type { CryptoProvider } from "../crypto/mod.ts";
import { prf, prfPlus } from "../crypto/mod.ts";
import { concatBytes } from "../wire/mod.ts";
import type { EncryptionInfo, IntegrityInfo, PrfInfo } from "./algorithms.ts";

export interface IkeSaKeys {
  skD: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

export interface IkeKeyInputs {
  prf: PrfInfo;
  encryption: EncryptionInfo;
  integrity: IntegrityInfo | undefined;
  nonceI: Uint8Array;
  nonceR: Uint8Array;
  spiI: Uint8Array;
  spiR: Uint8Array;
  sharedSecret: Uint8Array;
  /** SK_d of the IKE SA being rekeyed (RFC 7296 §2.18); absent for IKE_SA_INIT. */
  previousSkD?: Uint8Array;
}

function split(material: Uint8Array, lengths: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const n of lengths) {
    out.push(material.slice(at, at + n));
    at += n;
  }
  return out;
}

/** Derives the seven IKE SA keys. */
export function deriveIkeSaKeys(provider: CryptoProvider, input: IkeKeyInputs): IkeSaKeys {
  const hash = input.prf.hash;
  const nonces = concatBytes(input.nonceI, input.nonceR);
  const skeyseed = input.previousSkD
    ? prf(provider, hash, input.previousSkD, concatBytes(input.sharedSecret, nonces))
    : prf(provider, hash, nonces, input.sharedSecret);
  const integLength = input.integrity?.keyLength ?? 0;
  const encrLength = input.encryption.keyMaterialLength;
  const prfLength = input.prf.keyLength;
  const lengths = [
    prfLength,
    integLength,
    integLength,
    encrLength,
    encrLength,
    prfLength,
    prfLength,
  ];
  const total = lengths.reduce((a, b) => a + b, 0);
  const material = prfPlus(
    provider,
    hash,
    skeyseed,
    concatBytes(nonces, input.spiI, input.spiR),
    total,
  );
  const [skD, skAi, skAr, skEi, skEr, skPi, skPr] = split(material, lengths) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  skeyseed.fill(0);
  material.fill(0);
  return { skD, skAi, skAr, skEi, skEr, skPi, skPr };
}

/** Keys of one child SA pair, named by direction of traffic. */
export interface ChildSaKeys {
  /** Initiator → responder. */
  encrI: Uint8Array;
  integI: Uint8Array;
  /** Responder → initiator. */
  encrR: Uint8Array;
  integR: Uint8Array;
}

export interface ChildKeyInputs {
  prf: PrfInfo;
  skD: Uint8Array;
  encryption: EncryptionInfo;
  integrity: IntegrityInfo | undefined;
  nonceI: Uint8Array;
  nonceR: Uint8Array;
  /** The new DH secret for PFS (CREATE_CHILD_SA with KE). */
  sharedSecret?: Uint8Array;
}

/** Derives child SA keys (RFC 7296 §2.17). */
export function deriveChildSaKeys(provider: CryptoProvider, input: ChildKeyInputs): ChildSaKeys {
  const encrLength = input.encryption.keyMaterialLength;
  const integLength = input.integrity?.keyLength ?? 0;
  const seed = input.sharedSecret
    ? concatBytes(input.sharedSecret, input.nonceI, input.nonceR)
    : concatBytes(input.nonceI, input.nonceR);
  const material = prfPlus(
    provider,
    input.prf.hash,
    input.skD,
    seed,
    2 * (encrLength + integLength),
  );
  const [encrI, integI, encrR, integR] = split(material, [
    encrLength,
    integLength,
    encrLength,
    integLength,
  ]) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  material.fill(0);
  return { encrI, integI, encrR, integR };
}
