/**
 * The Delete payload (RFC 7296 §3.11). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Protocol ID   |   SPI Size    |          Num of SPIs          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~               Security Parameter Index(es) (SPI)              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Checked on decode: IKE deletes carry SPI size 0 and no SPIs; ESP and AH deletes carry SPI
 * size 4; for any protocol Num of SPIs × SPI Size must fill the body exactly.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { nameOf, PayloadType, ProtocolId } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { DeletePayload } from "./types.ts";

/**
 * Reads a Delete payload body; SPIs are copies.
 *
 * @example
 * ```ts
 * const d = decodeDelete(bodyReader);
 * if (d.protocol === ProtocolId.Esp) d.spis.forEach(deleteChildSa);
 * ```
 */
export function decodeDelete(reader: ByteReader): DeletePayload {
  const start = reader.offset;
  const protocol = reader.u8("Delete payload protocol ID");
  const spiSize = reader.u8("Delete payload SPI size");
  const count = reader.u16("Delete payload SPI count");
  const expected = protocol === ProtocolId.Ike
    ? 0
    : protocol === ProtocolId.Esp || protocol === ProtocolId.Ah
    ? 4
    : spiSize;
  if (spiSize !== expected) {
    throw new DecodeError(
      `Cannot decode Delete payload: SPI size ${spiSize} for protocol ${
        nameOf(ProtocolId, protocol)
      }, expected ${expected}`,
      start + 1,
    );
  }
  if (protocol === ProtocolId.Ike && count !== 0) {
    throw new DecodeError(
      `Cannot decode Delete payload: an IKE SA delete carries ${count} SPIs, expected none`,
      start + 2,
    );
  }
  if (count * spiSize !== reader.remaining) {
    throw new DecodeError(
      `Cannot decode Delete payload: ${count} SPIs of ${spiSize} bytes do not fill the ${reader.remaining} bytes left`,
      start + 2,
    );
  }
  const spis: Uint8Array[] = [];
  for (let i = 0; i < count; i++) spis.push(reader.copy(spiSize, "Delete payload SPI"));
  return { type: PayloadType.Delete, protocol, spiSize, spis };
}

/**
 * Writes a Delete payload body; every SPI must be `spiSize` bytes.
 *
 * @example
 * ```ts
 * encodeDelete({ type: PayloadType.Delete, protocol: ProtocolId.Esp, spiSize: 4, spis: [spi] }, w);
 * ```
 */
export function encodeDelete(value: DeletePayload, writer: ByteWriter): void {
  checkField(value.protocol, 0xff, "Delete payload protocol ID");
  checkField(value.spiSize, 0xff, "Delete payload SPI size");
  checkField(value.spis.length, 0xffff, "Delete payload SPI count");
  checkField(deleteLength(value), MAX_PAYLOAD_BODY_LENGTH, "Delete payload length");
  for (const spi of value.spis) {
    if (spi.length !== value.spiSize) {
      throw new RangeError(
        `Cannot encode Delete payload: a ${spi.length}-byte SPI does not match SPI size ${value.spiSize}`,
      );
    }
  }
  writer.u8(value.protocol).u8(value.spiSize).u16(value.spis.length);
  for (const spi of value.spis) writer.bytes(spi);
}

/**
 * Length of a Delete payload body in bytes.
 *
 * @example
 * ```ts
 * deleteLength({ type: PayloadType.Delete, protocol: 3, spiSize: 4, spis: [a, b] }); // 12
 * ```
 */
export function deleteLength(value: DeletePayload): number {
  return 4 + value.spiSize * value.spis.length;
}
