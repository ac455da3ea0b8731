/**
 * EAP packet codec (RFC 3748 §4) and the Nak Type-Data (§5.3).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Code      |  Identifier   |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |  Type-Data ...          (Request/Response only)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Length counts the whole packet. Octets past Length are link-layer padding and are ignored
 * (§4); a Length shorter than the header or longer than the input is a {@link DecodeError}.
 * Success and Failure are exactly four octets (§4.2).
 */
import { ByteReader, ByteWriter, DecodeError } from "../../wire/mod.ts";
import { EapCode, EapType } from "./constants.ts";

const HEADER_LENGTH = 4;
const MAX_PACKET_LENGTH = 0xffff;
/** Vendor-Id (3) + Vendor-Type (4) of an Expanded Type (RFC 3748 §5.7). */
const EXPANDED_HEADER_LENGTH = 7;
/** Vendor-Type of the Expanded Nak (RFC 3748 §5.3.2). */
const EXPANDED_NAK_VENDOR_TYPE = 3;

/** A Request or Response: carries a Type and its Type-Data. */
export interface EapTypedPacket {
  code: typeof EapCode.Request | typeof EapCode.Response;
  identifier: number;
  type: number;
  /** Type-Data (everything after the Type octet up to Length). */
  data: Uint8Array;
}

/** A Success or Failure: header only. */
export interface EapResultPacket {
  code: typeof EapCode.Success | typeof EapCode.Failure;
  identifier: number;
}

export type EapPacket = EapTypedPacket | EapResultPacket;

/** True for Request/Response packets. */
export function isTypedPacket(packet: EapPacket): packet is EapTypedPacket {
  return packet.code === EapCode.Request || packet.code === EapCode.Response;
}

/**
 * Decodes one EAP packet at the reader's position; the reader moves past Length octets.
 * `data` is a copy. Unknown codes and short or overlong Length fields throw
 * {@link DecodeError}.
 *
 * @example
 * ```ts
 * const p = decodeEapPacket(new ByteReader(fromHex("0201000a01 75736572")));
 * // { code: 2, identifier: 1, type: 1, data: "user" }
 * ```
 */
export function decodeEapPacket(reader: ByteReader): EapPacket {
  const start = reader.offset;
  const code = reader.u8("EAP Code");
  const identifier = reader.u8("EAP Identifier");
  const length = reader.u16("EAP Length");
  if (length < HEADER_LENGTH) {
    throw new DecodeError(`Cannot decode EAP packet: Length ${length} is shorter than 4`, start);
  }
  // Length counts the four header octets already read.
  const body = reader.sub(length - HEADER_LENGTH, "EAP packet body");
  switch (code) {
    case EapCode.Success:
    case EapCode.Failure:
      if (length !== HEADER_LENGTH) {
        throw new DecodeError(
          `Cannot decode EAP ${
            code === EapCode.Success ? "Success" : "Failure"
          }: Length ${length} is not 4`,
          start,
        );
      }
      return { code, identifier };
    case EapCode.Request:
    case EapCode.Response: {
      const type = body.u8("EAP Type");
      if (type === 0) throw new DecodeError("Cannot decode EAP packet: Type 0 is reserved", start);
      if (type === EapType.Expanded) body.need(EXPANDED_HEADER_LENGTH, "EAP Expanded Type header");
      return { code, identifier, type, data: body.rest() };
    }
    default:
      throw new DecodeError(`Cannot decode EAP packet: unknown Code ${code}`, start);
  }
}

/**
 * Decodes a whole buffer holding one EAP packet (as carried in an IKEv2 EAP payload).
 *
 * @example
 * ```ts
 * parseEapPacket(fromHex("03050004")); // { code: 3, identifier: 5 }
 * ```
 */
export function parseEapPacket(bytes: Uint8Array): EapPacket {
  return decodeEapPacket(new ByteReader(bytes));
}

/**
 * Encoded length of `packet` in octets.
 *
 * @example
 * ```ts
 * eapPacketLength({ code: 1, identifier: 0, type: 1, data: new Uint8Array() }); // 5
 * ```
 */
export function eapPacketLength(packet: EapPacket): number {
  return isTypedPacket(packet) ? HEADER_LENGTH + 1 + packet.data.length : HEADER_LENGTH;
}

/**
 * Appends `packet` to `writer`. Throws `RangeError` for an identifier or type outside one
 * octet, or a packet longer than 65535 octets.
 *
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeEapPacket({ code: 4, identifier: 7 }, w);
 * w.finish(); // 04 07 00 04
 * ```
 */
export function encodeEapPacket(packet: EapPacket, writer: ByteWriter): void {
  const length = eapPacketLength(packet);
  if (!isOctet(packet.identifier)) {
    throw new RangeError(`Cannot encode EAP packet: identifier ${packet.identifier} out of range`);
  }
  if (length > MAX_PACKET_LENGTH) {
    throw new RangeError(`Cannot encode EAP packet: ${length} octets exceed 65535`);
  }
  writer.u8(packet.code).u8(packet.identifier).u16(length);
  if (isTypedPacket(packet)) {
    if (!isOctet(packet.type) || packet.type === 0) {
      throw new RangeError(`Cannot encode EAP packet: Type ${packet.type} out of range`);
    }
    writer.u8(packet.type).bytes(packet.data);
  }
}

/**
 * `packet` as a new byte array.
 *
 * @example
 * ```ts
 * eapPacketBytes({ code: 3, identifier: 5 }); // 03 05 00 04
 * ```
 */
export function eapPacketBytes(packet: EapPacket): Uint8Array {
  const writer = new ByteWriter(eapPacketLength(packet));
  encodeEapPacket(packet, writer);
  return writer.finish();
}

/**
 * The desired types of a legacy Nak's Type-Data (RFC 3748 §5.3.1): one octet each, at least
 * one; a single 0 means "no alternative" and yields `[]`.
 *
 * @example
 * ```ts
 * decodeNak(new Uint8Array([26])); // [26]
 * ```
 */
export function decodeNak(data: Uint8Array): number[] {
  if (data.length === 0) throw new DecodeError("Cannot decode Nak: no desired Type", 0);
  const types = Array.from(data);
  return types.length === 1 && types[0] === 0 ? [] : types;
}

/**
 * Legacy Nak Type-Data proposing `types` (empty: "no alternative", encoded as 0).
 *
 * @example
 * ```ts
 * encodeNak([EapType.MsChapV2]); // Uint8Array [26]
 * ```
 */
export function encodeNak(types: readonly number[]): Uint8Array {
  return types.length === 0 ? new Uint8Array([0]) : Uint8Array.from(types);
}

/**
 * Expanded Nak Type-Data (RFC 3748 §5.3.2), the answer to an unsupported Expanded Type
 * Request: Vendor-Id 0, Vendor-Type 3, then one 8-octet expanded entry per legacy type.
 *
 * @example
 * ```ts
 * encodeExpandedNak([26]); // 000000 00000003 fe 000000 0000001a
 * ```
 */
export function encodeExpandedNak(types: readonly number[]): Uint8Array {
  const w = new ByteWriter(EXPANDED_HEADER_LENGTH + 8 * types.length);
  w.zeros(3).u32(EXPANDED_NAK_VENDOR_TYPE);
  for (const type of types) w.u8(EapType.Expanded).zeros(3).u32(type);
  return w.finish();
}

function isOctet(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xff;
}
