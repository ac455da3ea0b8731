/**
 * The Configuration payload CP (RFC 7296 §3.15). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   CFG Type    |                    RESERVED                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Configuration Attributes                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Configuration attribute (§3.15.1):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|         Attribute Type      |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                             Value                             ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The R bit is ignored on receipt and sent as 0. Attributes of the types in
 * {@link CONFIG_ATTRIBUTE_LENGTHS} must have one of the lengths listed there (a zero-length
 * attribute is a request for that value); other types are kept with any length. The CFG Type
 * is kept as received; the meaning of the attributes lives in lib/ike/config_attributes.ts.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { ConfigAttributeType, nameOf, PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { ConfigAttribute, CpPayload } from "./types.ts";

const A = ConfigAttributeType;

/**
 * The value lengths RFC 7296 §3.15.1 allows per attribute type; types not listed here
 * (APPLICATION_VERSION, INTERNAL_DNS_DOMAIN of RFC 8598, unknown ones) take any length.
 */
export const CONFIG_ATTRIBUTE_LENGTHS: ReadonlyMap<number, readonly number[] | "even"> = new Map<
  number,
  readonly number[] | "even"
>([
  [A.InternalIp4Address, [0, 4]],
  [A.InternalIp4Netmask, [0, 4]],
  [A.InternalIp4Dns, [0, 4]],
  [A.InternalIp4Nbns, [0, 4]],
  [A.InternalIp4Dhcp, [0, 4]],
  [A.InternalIp6Address, [0, 17]],
  [A.InternalIp6Dns, [0, 16]],
  [A.InternalIp6Dhcp, [0, 16]],
  [A.InternalIp4Subnet, [0, 8]],
  [A.SupportedAttributes, "even"],
  [A.InternalIp6Subnet, [0, 17]],
]);

const ATTRIBUTE_TYPE_MASK = 0x7fff;

function lengthAllowed(type: number, length: number): boolean {
  const allowed = CONFIG_ATTRIBUTE_LENGTHS.get(type);
  if (allowed === undefined) return true;
  return allowed === "even" ? length % 2 === 0 : allowed.includes(length);
}

function describeAllowed(type: number): string {
  const allowed = CONFIG_ATTRIBUTE_LENGTHS.get(type);
  return allowed === "even" ? "a multiple of 2" : (allowed ?? []).join(" or ");
}

/**
 * Reads a CP payload body; attribute values are copies.
 *
 * @throws {DecodeError} when the body is shorter than 4 bytes, an attribute overruns it, or a
 * known attribute has a length RFC 7296 does not allow.
 *
 * @example
 * ```ts
 * const cp = decodeCp(bodyReader);
 * cp.cfgType === ConfigType.CfgRequest;
 * cp.attributes[0]?.type === ConfigAttributeType.InternalIp4Address;
 * ```
 */
export function decodeCp(reader: ByteReader): CpPayload {
  const cfgType = reader.u8("CP payload CFG type");
  reader.skip(3, "CP payload reserved field");
  const attributes: ConfigAttribute[] = [];
  while (reader.remaining > 0) {
    const start = reader.offset;
    const n = attributes.length + 1;
    if (reader.remaining < 4) {
      throw new DecodeError(
        `Cannot decode CP payload: attribute ${n} needs 4 header bytes, ${reader.remaining} left`,
        start,
      );
    }
    const type = reader.u16(`CP attribute ${n}`) & ATTRIBUTE_TYPE_MASK;
    const length = reader.u16(`CP attribute ${n}`);
    if (length > reader.remaining) {
      throw new DecodeError(
        `Cannot decode CP payload: attribute ${n} (${
          nameOf(ConfigAttributeType, type)
        }) has length ${length} but ${reader.remaining} bytes are left`,
        start + 2,
      );
    }
    if (!lengthAllowed(type, length)) {
      throw new DecodeError(
        `Cannot decode CP payload: attribute ${n} (${
          nameOf(ConfigAttributeType, type)
        }) has length ${length}, expected ${describeAllowed(type)}`,
        start + 2,
      );
    }
    attributes.push({ type, value: reader.copy(length, `CP attribute ${n} value`) });
  }
  return { type: PayloadType.Configuration, cfgType, attributes };
}

/**
 * Writes a CP payload body.
 *
 * @throws {RangeError} for a field out of range or a known attribute with a length RFC 7296
 * does not allow.
 *
 * @example
 * ```ts
 * encodeCp({
 *   type: PayloadType.Configuration,
 *   cfgType: ConfigType.CfgRequest,
 *   attributes: [{ type: ConfigAttributeType.InternalIp4Address, value: new Uint8Array(0) }],
 * }, writer);
 * ```
 */
export function encodeCp(value: CpPayload, writer: ByteWriter): void {
  checkField(value.cfgType, 0xff, "CP payload CFG type");
  checkField(cpLength(value), MAX_PAYLOAD_BODY_LENGTH, "CP payload length");
  writer.u8(value.cfgType).zeros(3);
  for (const attribute of value.attributes) {
    checkField(attribute.type, ATTRIBUTE_TYPE_MASK, "CP attribute type");
    if (!lengthAllowed(attribute.type, attribute.value.length)) {
      throw new RangeError(
        `Cannot encode CP payload: ${
          nameOf(ConfigAttributeType, attribute.type)
        } value of ${attribute.value.length} bytes, expected ${describeAllowed(attribute.type)}`,
      );
    }
    writer.u16(attribute.type).u16(attribute.value.length).bytes(attribute.value);
  }
}

/**
 * Length of a CP payload body in bytes.
 *
 * @example
 * ```ts
 * cpLength({ type: PayloadType.Configuration, cfgType: 1, attributes: [{ type: 1, value: new Uint8Array(0) }] }); // 8
 * ```
 */
export function cpLength(value: CpPayload): number {
  let n = 4;
  for (const attribute of value.attributes) n += 4 + attribute.value.length;
  return n;
}
