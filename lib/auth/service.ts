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

/** How an identity authenticates: a shared key or an X.509 certificate. */
export type AuthMethodName = "psk" | "cert";

export interface SignatureAuthRequest {
  realmId: number;
  /** InitiatorSignedOctets or ResponderSignedOctets. */
  signedOctets: Uint8Array;
  /** Hash ids from the peer's SIGNATURE_HASH_ALGORITHMS notify (RFC 7427), if it sent one. */
  peerHashAlgorithms: readonly number[] | undefined;
}

export interface CertificateVerifyRequest {
  realmId: number;
  /** The peer's identity (ID payload type and data) and its text form. */
  peerId: string;
  idType: number;
  idData: Uint8Array;
  /** CERT payload bodies as received: the end-entity certificate first. */
  certificates: readonly Uint8Array[];
  /** AUTH method and data as received. */
  method: number;
  data: Uint8Array;
  signedOctets: Uint8Array;
}

/** The outcome of a certificate check; `reason` is a log line for an operator. */
export type CertificateVerifyResult = { ok: true; subject: string } | {
  ok: false;
  reason: string;
};

export interface AuthService extends PskAuthService {
  /** How we authenticate in `realmId`. */
  localMethod(realmId: number): Promise<AuthMethodName>;
  /** How `peerId` must authenticate in `realmId`; undefined when it is not configured. */
  peerMethod(realmId: number, peerId: string): Promise<AuthMethodName | undefined>;
  /** CERT payload bodies we send in `realmId` (our certificate, then the chain); none for PSK. */
  localCertificates(realmId: number): Promise<Uint8Array[]>;
  /**
   * A CERTREQ body naming the CAs we trust in `realmId` (all realms when undefined), or
   * undefined when there are none.
   */
  certificateRequest(realmId?: number): Promise<Uint8Array | undefined>;
  /** Signs the AUTH octets with our private key in `realmId`. */
  signAuth(request: SignatureAuthRequest): Promise<{ method: number; data: Uint8Array }>;
  /** Validates the peer's certificate chain, identity binding and AUTH signature. */
  verifyCertificateAuth(request: CertificateVerifyRequest): Promise<CertificateVerifyResult>;
}

/** Shared-key authentication (RFC 7296 §2.15). */
export interface PskAuthService {
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
