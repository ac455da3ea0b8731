/** Sample payloads and messages shared by the message and robustness tests. */
import {
  AuthMethod,
  ConfigAttributeType,
  ConfigType,
  DhGroup,
  EncrId,
  EsnId,
  ExchangeType,
  HeaderFlag,
  IdType,
  NotifyType,
  PayloadType,
  PrfId,
  ProtocolId,
  TransformType,
  TsType,
} from "../../../lib/ike/constants.ts";
import type { IkeHeader, Payload } from "../../../lib/ike/payloads/mod.ts";
import { hex } from "./_helpers.ts";

const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Header fields of an IKE_SA_INIT request (no length / next payload). */
export const SA_INIT_HEADER: Omit<IkeHeader, "length" | "nextPayload"> = {
  initiatorSpi: hex("9313f28c345d8555"),
  responderSpi: new Uint8Array(8),
  majorVersion: 2,
  minorVersion: 0,
  exchangeType: ExchangeType.IkeSaInit,
  flags: HeaderFlag.Initiator,
  messageId: 0,
};

/** What a strongSwan-like initiator puts into IKE_SA_INIT. */
export const SA_INIT_PAYLOADS: Payload[] = [
  {
    type: PayloadType.SecurityAssociation,
    proposals: [{
      number: 1,
      protocol: ProtocolId.Ike,
      spi: new Uint8Array(0),
      transforms: [
        { type: TransformType.Encryption, id: EncrId.AesGcm16, keyLength: 128 },
        { type: TransformType.Encryption, id: EncrId.AesGcm16, keyLength: 256 },
        { type: TransformType.Prf, id: PrfId.HmacSha2_256 },
        { type: TransformType.DiffieHellman, id: DhGroup.Ecp256 },
        { type: TransformType.DiffieHellman, id: DhGroup.Curve25519 },
      ],
    }],
  },
  { type: PayloadType.KeyExchange, dhGroup: DhGroup.Ecp256, keyData: bytes(64, 1) },
  { type: PayloadType.Nonce, nonce: bytes(32, 2) },
  {
    type: PayloadType.Notify,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: NotifyType.NatDetectionSourceIp,
    data: bytes(20, 3),
  },
  {
    type: PayloadType.Notify,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: NotifyType.NatDetectionDestinationIp,
    data: bytes(20, 4),
  },
  {
    type: PayloadType.Notify,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: NotifyType.IkeFragmentationSupported,
    data: new Uint8Array(0),
  },
  {
    type: PayloadType.Notify,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: NotifyType.SignatureHashAlgorithms,
    data: hex("0002 0003 0004 0005"),
  },
  { type: PayloadType.VendorId, data: hex("882fe56d6fd20dbc2251613b2ebe5beb") },
];

/** The plaintext payloads of an IKE_AUTH request, one of every kind the codec knows. */
export const AUTH_INNER_PAYLOADS: Payload[] = [
  {
    type: PayloadType.IdInitiator,
    idType: IdType.Fqdn,
    data: new TextEncoder().encode("a.example"),
  },
  { type: PayloadType.Certificate, critical: false, body: hex("04 3082000a") },
  { type: PayloadType.CertificateRequest, critical: false, body: hex("04") },
  { type: PayloadType.IdResponder, idType: IdType.Ipv4Addr, data: hex("cb007101") },
  { type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data: bytes(32, 5) },
  {
    type: PayloadType.Configuration,
    cfgType: ConfigType.CfgRequest,
    attributes: [{ type: ConfigAttributeType.InternalIp4Address, value: new Uint8Array(0) }],
  },
  {
    type: PayloadType.SecurityAssociation,
    proposals: [{
      number: 1,
      protocol: ProtocolId.Esp,
      spi: hex("c0ffee01"),
      transforms: [
        { type: TransformType.Encryption, id: EncrId.AesGcm16, keyLength: 256 },
        { type: TransformType.ExtendedSequenceNumbers, id: EsnId.NoEsn },
      ],
    }],
  },
  {
    type: PayloadType.TsInitiator,
    selectors: [{
      tsType: TsType.Ipv4AddrRange,
      ipProtocol: 0,
      startPort: 0,
      endPort: 65535,
      startAddress: hex("0a010000"),
      endAddress: hex("0a0100ff"),
    }],
  },
  {
    type: PayloadType.TsResponder,
    selectors: [{
      tsType: TsType.Ipv6AddrRange,
      ipProtocol: 17,
      startPort: 500,
      endPort: 4500,
      startAddress: hex("20010db8000000000000000000000000"),
      endAddress: hex("20010db8000000000000ffffffffffff"),
    }],
  },
  { type: PayloadType.Delete, protocol: ProtocolId.Esp, spiSize: 4, spis: [hex("01020304")] },
  { type: PayloadType.Eap, critical: false, body: hex("02 01 0009 01 75736572") },
  { type: 200, unknown: true, critical: false, body: hex("deadbeef") },
  {
    type: PayloadType.Notify,
    protocol: ProtocolId.Esp,
    spi: hex("c0ffee01"),
    notifyType: NotifyType.UseTransportMode,
    data: new Uint8Array(0),
  },
];
