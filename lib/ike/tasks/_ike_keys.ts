/**
 * Turning a negotiated IKE suite and DH secret into an IKE SA's keys and SK protection; shared
 * by IKE_SA_INIT and the IKE SA rekey (RFC 7296 §2.14, §2.18).
 */
import { toHex } from "../../wire/mod.ts";
import { encryptionInfo, integrityInfo, prfInfo } from "../algorithms.ts";
import type { IkeSa } from "../ike_sa.ts";
import { deriveIkeSaKeys } from "../keys.ts";
import { MessageProtection } from "../protection.ts";
import type { IkeSuite } from "../suites.ts";
import type { TaskServices } from "./task.ts";

export const NONCE_LENGTH = 32;

/** A fresh nonce (RFC 7296 §2.10: at least half the PRF key size; 32 bytes covers all ours). */
export function randomNonce(services: TaskServices): Uint8Array {
  const nonce = new Uint8Array(NONCE_LENGTH);
  services.crypto.randomBytes(nonce);
  return nonce;
}

/**
 * Sets suite, keys and SK protection on `sa` from its nonces and SPIs and the DH `secret`
 * (wiped afterwards). `previousSkD` is the rekeyed SA's SK_d.
 */
export function activateIkeKeys(
  sa: IkeSa,
  services: TaskServices,
  suite: IkeSuite,
  secret: Uint8Array,
  previousSkD?: Uint8Array,
): void {
  const prf = prfInfo(suite.prfId)!;
  const encryption = encryptionInfo(suite.encrId, suite.encrKeyBits)!;
  const integrity = integrityInfo(suite.integId);
  sa.suite = suite;
  sa.prf = prf;
  sa.encryption = encryption;
  sa.integrity = integrity;
  const keys = deriveIkeSaKeys(services.crypto, {
    prf,
    encryption,
    integrity,
    nonceI: sa.nonceI!,
    nonceR: sa.nonceR!,
    spiI: sa.spiI,
    spiR: sa.spiR,
    sharedSecret: secret,
    ...(previousSkD ? { previousSkD } : {}),
  });
  secret.fill(0);
  sa.keys = keys;
  const i = { encryptionKey: keys.skEi, integrityKey: keys.skAi };
  const r = { encryptionKey: keys.skEr, integrityKey: keys.skAr };
  sa.protection?.dispose();
  sa.protection = new MessageProtection(services.crypto, {
    encryption,
    integrity,
    outbound: sa.initiator ? i : r,
    inbound: sa.initiator ? r : i,
  });
  sa.log.private(
    `SK_ei ${toHex(keys.skEi)} SK_er ${toHex(keys.skEr)} SK_ai ${toHex(keys.skAi)} SK_ar ${
      toHex(keys.skAr)
    }`,
  );
}
