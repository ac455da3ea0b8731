/**
 * Decoded IKEv2 payload values. Codecs in this folder turn bytes into these and back; the
 * engine only ever sees these types. Byte fields decoded from a datagram are copies (they
 * outlive the datagram).
 */
import type { PayloadType } from "../constants.ts";

/** IKE header (RFC 7296 §3.1). */
export interface IkeHeader {
  initiatorSpi: Uint8Array; // 8 bytes
  responderSpi: Uint8Array; // 8 bytes
  /** Type of the first payload. */
  nextPayload: number;
  majorVersion: number;
  minorVersion: number;
  exchangeType: number;
  /** Raw flags byte; see `HeaderFlag`. */
  flags: number;
  messageId: number;
  /** Total message length including the header. */
  length: number;
}

/** One transform (RFC 7296 §3.3.2); `keyLength` is the Key Length attribute in bits. */
export interface Transform {
  type: number;
  id: number;
  keyLength?: number;
  /**
   * Set by the decoder to the first attribute type other than Key Length that the transform
   * carried; such a transform must not be selected (RFC 7296 §3.3.6). Never encoded.
   */
  unknownAttribute?: number;
}

/** One proposal (RFC 7296 §3.3.1). */
export interface Proposal {
  number: number;
  protocol: number;
  spi: Uint8Array;
  transforms: Transform[];
}

export interface SaPayload {
  type: typeof PayloadType.SecurityAssociation;
  proposals: Proposal[];
}

export interface KePayload {
  type: typeof PayloadType.KeyExchange;
  dhGroup: number;
  keyData: Uint8Array;
}

export interface NoncePayload {
  type: typeof PayloadType.Nonce;
  nonce: Uint8Array;
}

/** IDi or IDr (RFC 7296 §3.5). */
export interface IdPayload {
  type: typeof PayloadType.IdInitiator | typeof PayloadType.IdResponder;
  idType: number;
  data: Uint8Array;
}

/** AUTH (RFC 7296 §3.8). */
export interface AuthPayload {
  type: typeof PayloadType.Authentication;
  method: number;
  data: Uint8Array;
}

/** Notify (RFC 7296 §3.10). */
export interface NotifyPayload {
  type: typeof PayloadType.Notify;
  protocol: number;
  spi: Uint8Array;
  notifyType: number;
  data: Uint8Array;
}

/** Delete (RFC 7296 §3.11); all SPIs have the same size (0 for IKE, 4 for ESP). */
export interface DeletePayload {
  type: typeof PayloadType.Delete;
  protocol: number;
  spiSize: number;
  spis: Uint8Array[];
}

export interface VendorIdPayload {
  type: typeof PayloadType.VendorId;
  data: Uint8Array;
}

/** One traffic selector (RFC 7296 §3.13.1); addresses are 4 or 16 bytes. */
export interface TrafficSelector {
  tsType: number;
  ipProtocol: number;
  startPort: number;
  endPort: number;
  startAddress: Uint8Array;
  endAddress: Uint8Array;
}

/** TSi or TSr (RFC 7296 §3.13). */
export interface TsPayload {
  type: typeof PayloadType.TsInitiator | typeof PayloadType.TsResponder;
  selectors: TrafficSelector[];
}

/**
 * The SK payload as it sits on the wire (RFC 7296 §3.14): `innerFirst` is the type of the
 * first encrypted payload (the SK generic header's Next Payload field), `body` is
 * IV | ciphertext | ICV. Encryption lives with the engine, not the codec.
 */
export interface EncryptedPayload {
  type: typeof PayloadType.Encrypted;
  innerFirst: number;
  body: Uint8Array;
}

/** One configuration attribute (RFC 7296 §3.15.1); an empty value asks for that item. */
export interface ConfigAttribute {
  /** Attribute Type (15 bits), see `ConfigAttributeType`. */
  type: number;
  value: Uint8Array;
}

/** CP (RFC 7296 §3.15): CFG_REQUEST / CFG_REPLY / CFG_SET / CFG_ACK with its attributes. */
export interface CpPayload {
  type: typeof PayloadType.Configuration;
  /** CFG Type, see `ConfigType`. */
  cfgType: number;
  attributes: ConfigAttribute[];
}

/** CERT / CERTREQ / EAP and anything else this release passes through as bytes. */
export interface OpaquePayload {
  type:
    | typeof PayloadType.Certificate
    | typeof PayloadType.CertificateRequest
    | typeof PayloadType.Eap
    | typeof PayloadType.EncryptedFragment;
  critical: boolean;
  body: Uint8Array;
  /**
   * SKF only: its generic header's Next Payload, i.e. the first inner payload type in
   * fragment 1 and 0 in the others (RFC 7383 §2.5). Absent means 0.
   */
  innerFirst?: number;
}

/** A payload type this release does not know; `critical` is the C bit. */
export interface UnknownPayload {
  type: number;
  unknown: true;
  critical: boolean;
  body: Uint8Array;
}

export type Payload =
  | SaPayload
  | KePayload
  | NoncePayload
  | IdPayload
  | AuthPayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload
  | EncryptedPayload
  | CpPayload
  | OpaquePayload
  | UnknownPayload;

/** A decoded message: header plus payloads in wire order (an SK payload stays encrypted). */
export interface IkeMessage {
  header: IkeHeader;
  payloads: Payload[];
}
