/**
 * The Traffic Selector payloads TSi and TSr (RFC 7296 §3.13). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Number of TSs |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       <Traffic Selectors>                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Traffic selector (§3.13.1):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   TS Type     |IP Protocol ID*|       Selector Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Start Port*         |           End Port*           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Starting Address*                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Ending Address*                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Only TS_IPV4_ADDR_RANGE (type 7, Selector Length 16) and TS_IPV6_ADDR_RANGE (type 8,
 * Selector Length 40) are understood; any other type or length is a decode error. Number of
 * TSs must be at least 1 and match the selectors present.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { PayloadType, TsType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { TrafficSelector, TsPayload } from "./types.ts";

/** Selector Length for each understood TS type: 8 bytes of header + two addresses. */
function selectorLengthOf(tsType: number): number | undefined {
  return tsType === TsType.Ipv4AddrRange ? 16 : tsType === TsType.Ipv6AddrRange ? 40 : undefined;
}

/**
 * Reads a TSi or TSr payload body; addresses are copies.
 *
 * @example
 * ```ts
 * const tsi = decodeTs(bodyReader, PayloadType.TsInitiator);
 * tsi.selectors.map(trafficSelectorToText); // ["10.1.0.0/24"]
 * ```
 */
export function decodeTs(reader: ByteReader, type: TsPayload["type"]): TsPayload {
  const name = type === PayloadType.TsInitiator ? "TSi payload" : "TSr payload";
  const countAt = reader.offset;
  const count = reader.u8(`${name} selector count`);
  reader.skip(3, `${name} reserved field`);
  if (count === 0) {
    throw new DecodeError(`Cannot decode ${name}: it has no traffic selectors`, countAt);
  }
  const selectors: TrafficSelector[] = [];
  for (let i = 1; i <= count; i++) {
    const what = `${name} selector ${i}`;
    if (reader.remaining === 0) {
      throw new DecodeError(
        `Cannot decode ${name}: announces ${count} selectors but carries ${i - 1}`,
        reader.offset,
      );
    }
    const start = reader.offset;
    const tsType = reader.u8(what);
    const ipProtocol = reader.u8(what);
    const length = reader.u16(what);
    const expected = selectorLengthOf(tsType);
    if (expected === undefined) {
      throw new DecodeError(
        `Cannot decode ${name}: selector ${i} has unsupported type ${tsType}`,
        start,
      );
    }
    if (length !== expected) {
      throw new DecodeError(
        `Cannot decode ${name}: selector ${i} of type ${tsType} has length ${length}, expected ${expected}`,
        start + 2,
      );
    }
    const body = reader.sub(length - 4, what);
    const size = (length - 8) / 2;
    selectors.push({
      tsType,
      ipProtocol,
      startPort: body.u16(what),
      endPort: body.u16(what),
      startAddress: body.copy(size, what),
      endAddress: body.copy(size, what),
    });
  }
  if (reader.remaining !== 0) {
    throw new DecodeError(
      `Cannot decode ${name}: ${reader.remaining} bytes after the last selector`,
      reader.offset,
    );
  }
  return { type, selectors };
}

/**
 * Writes a TSi or TSr payload body; each selector's addresses must match its type (4 bytes
 * for type 7, 16 for type 8).
 *
 * @example
 * ```ts
 * encodeTs({ type: PayloadType.TsInitiator, selectors: [trafficSelectorFromText("10.1.0.0/24")] }, w);
 * ```
 */
export function encodeTs(value: TsPayload, writer: ByteWriter): void {
  if (value.selectors.length === 0) {
    throw new RangeError("Cannot encode TS payload: it has no traffic selectors");
  }
  checkField(value.selectors.length, 0xff, "TS payload selector count");
  checkField(tsLength(value), MAX_PAYLOAD_BODY_LENGTH, "TS payload length");
  writer.u8(value.selectors.length).zeros(3);
  for (const ts of value.selectors) {
    const length = selectorLengthOf(ts.tsType);
    if (length === undefined) {
      throw new RangeError(`Cannot encode TS payload: unsupported selector type ${ts.tsType}`);
    }
    const size = (length - 8) / 2;
    if (ts.startAddress.length !== size || ts.endAddress.length !== size) {
      throw new RangeError(
        `Cannot encode TS payload: type ${ts.tsType} needs ${size}-byte addresses`,
      );
    }
    checkField(ts.ipProtocol, 0xff, "TS IP protocol");
    checkField(ts.startPort, 0xffff, "TS start port");
    checkField(ts.endPort, 0xffff, "TS end port");
    writer.u8(ts.tsType).u8(ts.ipProtocol).u16(length).u16(ts.startPort).u16(ts.endPort);
    writer.bytes(ts.startAddress).bytes(ts.endAddress);
  }
}

/**
 * Length of a TSi or TSr payload body in bytes.
 *
 * @example
 * ```ts
 * tsLength({ type: PayloadType.TsInitiator, selectors: [ipv4Selector] }); // 20
 * ```
 */
export function tsLength(value: TsPayload): number {
  let n = 4;
  for (const ts of value.selectors) n += 8 + ts.startAddress.length + ts.endAddress.length;
  return n;
}
