/**
 * The IKE header (RFC 7296 §3.1), 28 bytes at the start of every IKE message:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Initiator's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Responder's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          Message ID                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            Length                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Length rule: {@link decodeHeader} checks the major version first (so the engine can
 * answer INVALID_MAJOR_VERSION), then that Length is at least 28. That Length equals the
 * datagram length is checked by `decodeMessage`, which sees the whole datagram.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { IKE_HEADER_LENGTH, IKE_MAJOR_VERSION } from "../constants.ts";
import { checkField } from "./_common.ts";
import { InvalidMajorVersionError } from "./errors.ts";
import type { IkeHeader } from "./types.ts";

/**
 * Reads the 28-byte IKE header. SPIs are copies.
 *
 * @throws {InvalidMajorVersionError} when the major version is not 2.
 * @throws {DecodeError} when fewer than 28 bytes remain or Length is below 28.
 *
 * @example
 * ```ts
 * const header = decodeHeader(new ByteReader(datagram));
 * header.exchangeType; // 34 (IKE_SA_INIT)
 * ```
 */
export function decodeHeader(reader: ByteReader): IkeHeader {
  const start = reader.offset;
  reader.need(IKE_HEADER_LENGTH, "IKE header");
  const initiatorSpi = reader.copy(8, "IKE header initiator SPI");
  const responderSpi = reader.copy(8, "IKE header responder SPI");
  const nextPayload = reader.u8("IKE header next payload");
  const version = reader.u8("IKE header version");
  const exchangeType = reader.u8("IKE header exchange type");
  const flags = reader.u8("IKE header flags");
  const messageId = reader.u32("IKE header message ID");
  const length = reader.u32("IKE header length");
  const header: IkeHeader = {
    initiatorSpi,
    responderSpi,
    nextPayload,
    majorVersion: version >>> 4,
    minorVersion: version & 0x0f,
    exchangeType,
    flags,
    messageId,
    length,
  };
  if (header.majorVersion !== IKE_MAJOR_VERSION) {
    throw new InvalidMajorVersionError(header, start + 17);
  }
  if (length < IKE_HEADER_LENGTH) {
    throw new DecodeError(
      `Cannot decode IKE header: length ${length} is shorter than the 28-byte header`,
      start + 24,
    );
  }
  return header;
}

/**
 * Writes the 28-byte IKE header exactly as given (including `length`; `encodeMessage`
 * fills `nextPayload` and `length` for you).
 *
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeHeader({ ...header, nextPayload: PayloadType.Encrypted, length: 80 }, w);
 * ```
 */
export function encodeHeader(header: IkeHeader, writer: ByteWriter): void {
  if (header.initiatorSpi.length !== 8 || header.responderSpi.length !== 8) {
    throw new RangeError("Cannot encode IKE header: SPIs must be 8 bytes each");
  }
  checkField(header.nextPayload, 0xff, "IKE header next payload");
  checkField(header.majorVersion, 0x0f, "IKE header major version");
  checkField(header.minorVersion, 0x0f, "IKE header minor version");
  checkField(header.exchangeType, 0xff, "IKE header exchange type");
  checkField(header.flags, 0xff, "IKE header flags");
  checkField(header.messageId, 0xffffffff, "IKE header message ID");
  checkField(header.length, 0xffffffff, "IKE header length");
  writer.bytes(header.initiatorSpi);
  writer.bytes(header.responderSpi);
  writer.u8(header.nextPayload);
  writer.u8((header.majorVersion << 4) | header.minorVersion);
  writer.u8(header.exchangeType);
  writer.u8(header.flags);
  writer.u32(header.messageId);
  writer.u32(header.length);
}
