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

/** How an identity authenticates: a shared key, an X.509 certificate, or EAP (RFC 7296 §2.16). */
export type AuthMethodName = "psk" | "cert" | "eap-md5" | "eap-mschapv2";

/** True for the EAP methods. */
export function isEapMethod(
  method: AuthMethodName | undefined,
): method is "eap-md5" | "eap-mschapv2" {
  return method === "eap-md5" || method === "eap-mschapv2";
}

/** Starts an EAP conversation inside IKE_AUTH. */
export interface EapStartRequest {
  realmId: number;
  /**
   * `server`: we authenticate `peerId` (its IDi) with the method configured for it and the
   * realm's `<eap_user>` list. `peer`: we are the EAP client of the realm's `<my_auth>`.
   */
  role: "server" | "peer";
  /** The other side's IKE identity in text form. */
  peerId: string;
}

/** The end of an EAP conversation as the IKE engine sees it: no secret, no MSK. */
export interface EapConclusion {
  success: boolean;
  /** Server: the EAP identity the peer proved (or tried); peer: ours. */
  identity?: string;
  /**
   * Whether the method produced an MSK, which then keys both AUTH payloads (the MSK stays
   * behind the service: {@link AuthService.eapAuth}); without one, AUTH uses SK_pi / SK_pr.
   */
  hasMsk: boolean;
  /** Why it failed, for the log. */
  reason?: string;
}

/** One step of an EAP conversation. */
export interface EapRound {
  /** Names the conversation in later calls. */
  session: number;
  /** An EAP packet for the next EAP payload. */
  send?: Uint8Array;
  /** Set once, when the conversation is over (`send` may carry EAP-Success/Failure). */
  done?: EapConclusion;
}

/** AUTH keyed with the MSK of a finished, successful conversation (RFC 7296 §2.16). */
export interface EapAuthRequest {
  session: number;
  prf: HashName;
  signedOctets: Uint8Array;
}

export interface EapVerifyRequest extends EapAuthRequest {
  auth: Uint8Array;
}

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
  /**
   * Starts an EAP conversation (server: the first Request; peer: nothing to send yet).
   * Rejects with {@link AuthUnavailableError} when the realm has no EAP configuration for it.
   */
  eapStart(request: EapStartRequest): Promise<EapRound>;
  /** Feeds the other side's EAP packet to conversation `session`. */
  eapProcess(session: number, packet: Uint8Array): Promise<EapRound>;
  /**
   * AUTH = prf(prf(MSK, "Key Pad for IKEv2"), signedOctets) for a successful conversation
   * with an MSK; rejects with {@link AuthUnavailableError} otherwise.
   */
  eapAuth(request: EapAuthRequest): Promise<Uint8Array>;
  /** True when `auth` equals the MSK-keyed value. */
  eapVerifyAuth(request: EapVerifyRequest): Promise<boolean>;
  /** Forgets conversation `session` and zeroes its MSK (idempotent). */
  eapEnd(session: number): Promise<void>;
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
