/**
 * IKEv2 wire constants, named after their IANA registries ("Internet Key Exchange Version 2
 * (IKEv2) Parameters"). Each entry cites its RFC section; {@link nameOf} prints unknown values
 * as `UNKNOWN(n)`.
 */

/**
 * The RFC-style name of `value` in `registry` ("NoProposalChosen" → "NO_PROPOSAL_CHOSEN"),
 * or `UNKNOWN(value)`.
 *
 * @example
 * ```ts
 * nameOf(NotifyType, 14); // "NO_PROPOSAL_CHOSEN"
 * ```
 */
export function nameOf(registry: Record<string, number>, value: number): string {
  for (const [k, v] of Object.entries(registry)) {
    if (v === value) return k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
  }
  return `UNKNOWN(${value})`;
}

/** IKE header constants (RFC 7296 §3.1). */
export const IKE_HEADER_LENGTH = 28;
export const IKE_MAJOR_VERSION = 2;
export const GENERIC_PAYLOAD_HEADER_LENGTH = 4;
/** UDP ports (RFC 7296 §2, RFC 3948). */
export const IKE_PORT = 500;
export const NAT_T_PORT = 4500;
/** The four zero bytes that precede IKE messages on port 4500 (RFC 3948 §2.2). */
export const NON_ESP_MARKER_LENGTH = 4;

/** Exchange types (RFC 7296 §3.1). */
export const ExchangeType = {
  IkeSaInit: 34,
  IkeAuth: 35,
  CreateChildSa: 36,
  Informational: 37,
} as const;

/** Header flags (RFC 7296 §3.1). */
export const HeaderFlag = {
  Initiator: 0x08,
  Version: 0x10,
  Response: 0x20,
} as const;

/** Payload types (RFC 7296 §3.2). */
export const PayloadType = {
  None: 0,
  SecurityAssociation: 33, // §3.3
  KeyExchange: 34, // §3.4
  IdInitiator: 35, // §3.5
  IdResponder: 36, // §3.5
  Certificate: 37, // §3.6
  CertificateRequest: 38, // §3.7
  Authentication: 39, // §3.8
  Nonce: 40, // §3.9
  Notify: 41, // §3.10
  Delete: 42, // §3.11
  VendorId: 43, // §3.12
  TsInitiator: 44, // §3.13
  TsResponder: 45, // §3.13
  Encrypted: 46, // §3.14 (SK)
  Configuration: 47, // §3.15
  Eap: 48, // §3.16
  EncryptedFragment: 53, // RFC 7383 §2.5 (SKF)
} as const;

/** Security protocol IDs (RFC 7296 §3.3.1). */
export const ProtocolId = {
  Ike: 1,
  Ah: 2,
  Esp: 3,
} as const;

/** Transform types (RFC 7296 §3.3.2). */
export const TransformType = {
  Encryption: 1,
  Prf: 2,
  Integrity: 3,
  DiffieHellman: 4,
  ExtendedSequenceNumbers: 5,
} as const;

/** Encryption algorithm transform IDs (RFC 7296 §3.3.2, RFC 5282 for GCM). */
export const EncrId = {
  AesCbc: 12, // RFC 3602
  AesGcm8: 18, // RFC 4106
  AesGcm12: 19,
  AesGcm16: 20,
} as const;

/** Pseudorandom function transform IDs (RFC 7296 §3.3.2, RFC 4868). */
export const PrfId = {
  HmacMd5: 1,
  HmacSha1: 2,
  HmacSha2_256: 5,
  HmacSha2_384: 6,
  HmacSha2_512: 7,
} as const;

/** Integrity algorithm transform IDs (RFC 7296 §3.3.2, RFC 4868). */
export const IntegId = {
  None: 0,
  HmacMd5_96: 1,
  HmacSha1_96: 2,
  HmacSha2_256_128: 12,
  HmacSha2_384_192: 13,
  HmacSha2_512_256: 14,
} as const;

/** Diffie-Hellman group transform IDs (RFC 7296 §3.3.2, RFC 5903, RFC 8031). */
export const DhGroup = {
  None: 0,
  Modp2048: 14, // RFC 3526
  Ecp256: 19, // RFC 5903
  Ecp384: 20, // RFC 5903
  Curve25519: 31, // RFC 8031
} as const;

/** Extended sequence numbers transform IDs (RFC 7296 §3.3.2). */
export const EsnId = {
  NoEsn: 0,
  Esn: 1,
} as const;

/** Transform attribute types (RFC 7296 §3.3.5); Key Length is TV format (AF bit set). */
export const TransformAttribute = {
  KeyLength: 14,
} as const;

/** Identification types (RFC 7296 §3.5). */
export const IdType = {
  Ipv4Addr: 1,
  Fqdn: 2,
  Rfc822Addr: 3,
  Ipv6Addr: 5,
  DerAsn1Dn: 9,
  DerAsn1Gn: 10,
  KeyId: 11,
} as const;

/** Authentication methods (RFC 7296 §3.8, RFC 7427). */
export const AuthMethod = {
  RsaDigitalSignature: 1,
  SharedKeyMic: 2,
  DssDigitalSignature: 3,
  EcdsaSha256P256: 9,
  EcdsaSha384P384: 10,
  EcdsaSha512P521: 11,
  DigitalSignature: 14,
} as const;

/** Traffic selector types (RFC 7296 §3.13.1). */
export const TsType = {
  Ipv4AddrRange: 7,
  Ipv6AddrRange: 8,
} as const;

/** Configuration payload CFG Types (RFC 7296 §3.15). */
export const ConfigType = {
  CfgRequest: 1,
  CfgReply: 2,
  CfgSet: 3,
  CfgAck: 4,
} as const;

/** Configuration attribute types (RFC 7296 §3.15.1, RFC 8598 for the DNS domain). */
export const ConfigAttributeType = {
  InternalIp4Address: 1,
  InternalIp4Netmask: 2,
  InternalIp4Dns: 3,
  InternalIp4Nbns: 4,
  InternalIp4Dhcp: 6,
  ApplicationVersion: 7,
  InternalIp6Address: 8,
  InternalIp6Dns: 10,
  InternalIp6Dhcp: 12,
  InternalIp4Subnet: 13,
  SupportedAttributes: 14,
  InternalIp6Subnet: 15,
  InternalDnsDomain: 25, // RFC 8598 §3.1
} as const;

/** Notify message types: errors below 16384, status from 16384 (RFC 7296 §3.10.1). */
export const NotifyType = {
  UnsupportedCriticalPayload: 1,
  InvalidIkeSpi: 4,
  InvalidMajorVersion: 5,
  InvalidSyntax: 7,
  InvalidMessageId: 9,
  InvalidSpi: 11,
  NoProposalChosen: 14,
  InvalidKePayload: 17,
  AuthenticationFailed: 24,
  SinglePairRequired: 34,
  NoAdditionalSas: 35,
  InternalAddressFailure: 36,
  FailedCpRequired: 37,
  TsUnacceptable: 38,
  InvalidSelectors: 39,
  TemporaryFailure: 43,
  ChildSaNotFound: 44,
  InitialContact: 16384,
  SetWindowSize: 16385,
  AdditionalTsPossible: 16386,
  IpcompSupported: 16387,
  NatDetectionSourceIp: 16388,
  NatDetectionDestinationIp: 16389,
  Cookie: 16390,
  UseTransportMode: 16391,
  HttpCertLookupSupported: 16392,
  RekeySa: 16393,
  EspTfcPaddingNotSupported: 16394,
  NonFirstFragmentsAlso: 16395,
  MobikeSupported: 16396, // RFC 4555
  MultipleAuthSupported: 16404, // RFC 4739
  RedirectSupported: 16406, // RFC 5685
  IkeFragmentationSupported: 16430, // RFC 7383
  SignatureHashAlgorithms: 16431, // RFC 7427
  ChildlessIkev2Supported: 16418, // RFC 6023
} as const;

/** Notify types below this value are errors (RFC 7296 §3.10.1). */
export const NOTIFY_ERROR_MAX = 16383;

/** Length bounds (RFC 7296 §2.10, §3.9). */
export const NONCE_MIN_LENGTH = 16;
export const NONCE_MAX_LENGTH = 256;
