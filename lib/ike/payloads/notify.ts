/**
 * The Notify payload (RFC 7296 §3.10). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Protocol ID  |   SPI Size    |      Notify Message Type      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                Security Parameter Index (SPI)                 ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Notification Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Protocol ID is kept as received (it MUST be ignored when the SPI is empty); the SPI size
 * is only checked against the body. Type-specific data checks belong to the engine.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { NotifyPayload } from "./types.ts";

/**
 * Reads a Notify payload body; `spi` and `data` are copies.
 *
 * @example
 * ```ts
 * const n = decodeNotify(bodyReader);
 * n.notifyType === NotifyType.NatDetectionSourceIp;
 * ```
 */
export function decodeNotify(reader: ByteReader): NotifyPayload {
  const protocol = reader.u8("Notify payload protocol ID");
  const spiSizeAt = reader.offset;
  const spiSize = reader.u8("Notify payload SPI size");
  const notifyType = reader.u16("Notify payload message type");
  if (spiSize > reader.remaining) {
    throw new DecodeError(
      `Cannot decode Notify payload: SPI size ${spiSize} overruns the ${reader.remaining} bytes left`,
      spiSizeAt,
    );
  }
  const spi = reader.copy(spiSize, "Notify payload SPI");
  return { type: PayloadType.Notify, protocol, spi, notifyType, data: reader.rest() };
}

/**
 * Writes a Notify payload body.
 *
 * @example
 * ```ts
 * encodeNotify({
 *   type: PayloadType.Notify, protocol: 0, spi: new Uint8Array(0),
 *   notifyType: NotifyType.IkeFragmentationSupported, data: new Uint8Array(0),
 * }, writer);
 * ```
 */
export function encodeNotify(value: NotifyPayload, writer: ByteWriter): void {
  checkField(value.protocol, 0xff, "Notify payload protocol ID");
  checkField(value.spi.length, 0xff, "Notify payload SPI size");
  checkField(value.notifyType, 0xffff, "Notify payload message type");
  checkField(notifyLength(value), MAX_PAYLOAD_BODY_LENGTH, "Notify payload length");
  writer.u8(value.protocol).u8(value.spi.length).u16(value.notifyType);
  writer.bytes(value.spi).bytes(value.data);
}

/**
 * Length of a Notify payload body in bytes.
 *
 * @example
 * ```ts
 * notifyLength(natDetection); // 4 + 20
 * ```
 */
export function notifyLength(value: NotifyPayload): number {
  return 4 + value.spi.length + value.data.length;
}
