/**
 * IKEv2 wire codecs (RFC 7296 §3): the IKE header, every payload, whole messages, and the
 * text forms of identities and traffic selectors.
 *
 * @example
 * ```ts
 * import { decodeMessage } from "./lib/ike/payloads/mod.ts";
 * const { header, payloads } = decodeMessage(datagram);
 * ```
 */
export type * from "./types.ts";
export { InvalidMajorVersionError, UnsupportedCriticalPayloadError } from "./errors.ts";
export { decodeHeader, encodeHeader } from "./header.ts";
export { decodeGenericHeader, encodeGenericHeader, type GenericHeader } from "./generic.ts";
export { decodeSa, encodeSa, saLength } from "./sa.ts";
export { decodeKe, encodeKe, keLength } from "./ke.ts";
export { decodeNonce, encodeNonce, nonceLength } from "./nonce.ts";
export {
  decodeId,
  encodeId,
  formatIdentity,
  IdentitySyntaxError,
  idLength,
  parseIdentity,
} from "./id.ts";
export { authLength, decodeAuth, encodeAuth } from "./auth.ts";
export { decodeNotify, encodeNotify, notifyLength } from "./notify.ts";
export { decodeDelete, deleteLength, encodeDelete } from "./delete.ts";
export { decodeVendorId, encodeVendorId, vendorIdLength } from "./vendor_id.ts";
export { decodeTs, encodeTs, tsLength } from "./ts.ts";
export { decodeEncrypted, encodeEncrypted, encryptedLength } from "./sk.ts";
export { CONFIG_ATTRIBUTE_LENGTHS, cpLength, decodeCp, encodeCp } from "./cp.ts";
export {
  decodeFragmentNumbers,
  encodeFragmentNumbers,
  FRAGMENT_FIELDS_LENGTH,
  type FragmentNumbers,
} from "./skf.ts";
export {
  decodeOpaque,
  decodeUnknown,
  encodeOpaque,
  encodeUnknown,
  OPAQUE_PAYLOAD_TYPES,
  opaqueLength,
  unknownLength,
} from "./opaque.ts";
export {
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  payloadBodyLength,
} from "./message.ts";
// IP address text lives in lib/wire; re-exported so codec users need one import.
export {
  compareAddresses,
  formatIpAddress,
  parseIpAddress,
  tryParseIpAddress,
} from "../../wire/mod.ts";
export {
  selectorContainsAddress,
  trafficSelectorFromText,
  trafficSelectorToText,
} from "./ts_address.ts";
