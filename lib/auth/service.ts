/**
 * The one interface through which the IKE engine obtains authentication results. Secrets stay
 * behind it: the engine hands over the octets to sign (RFC 7296 §2.15) and gets back the AUTH
 * value or a yes/no — never a key. A later issue moves the implementation into the secure
 * process; the interface is already asynchronous for that.
 */
import type { HashName } from "../crypto/mod.ts";

export interface PskAuthRequest {
  realmId: number;
  /** Peer identity in text form ("fqdn:gw2.example.com"): selects the shared key. */
  peerId: string;
  /** The negotiated PRF's hash. */
  prf: HashName;
  /** InitiatorSignedOctets or ResponderSignedOctets. */
  signedOctets: Uint8Array;
}

export interface PskVerifyRequest extends PskAuthRequest {
  /** The AUTH data the peer sent. */
  auth: Uint8Array;
}

/** Why an authentication request could not be answered (never carries a secret). */
export class AuthUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthUnavailableError";
  }
}

export interface AuthService {
  /**
   * AUTH = prf(prf(PSK, "Key Pad for IKEv2"), signedOctets) with the key for `peerId`.
   * Rejects with {@link AuthUnavailableError} when no key is configured for that peer.
   */
  computePskAuth(request: PskAuthRequest): Promise<Uint8Array>;
  /** True when `auth` equals the value computed with the key for `peerId`. */
  verifyPskAuth(request: PskVerifyRequest): Promise<boolean>;
  /** True when a shared key exists for `peerId` in `realmId` (no secret revealed). */
  hasPsk(realmId: number, peerId: string): Promise<boolean>;
}
