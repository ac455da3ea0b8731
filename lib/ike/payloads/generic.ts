/**
 * The generic payload header (RFC 7296 §3.2) that precedes every payload body:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Payload Length counts these 4 bytes. RESERVED bits are ignored on receipt. For the SK
 * and SKF payloads Next Payload is the type of the first *encrypted* payload.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { GENERIC_PAYLOAD_HEADER_LENGTH } from "../constants.ts";
import { checkField } from "./_common.ts";

/** A decoded generic payload header. */
export interface GenericHeader {
  /** Type of the payload after this one (for SK/SKF: the first encrypted payload). */
  nextPayload: number;
  /** The C bit. */
  critical: boolean;
  /** Payload Length: header plus body, at least 4. */
  length: number;
}

const CRITICAL_BIT = 0x80;

/**
 * Reads a generic payload header and checks that Payload Length is at least 4 and that the
 * body fits in what is left of `reader`.
 *
 * @example
 * ```ts
 * const g = decodeGenericHeader(reader);
 * const body = reader.sub(g.length - 4, "payload body");
 * ```
 */
export function decodeGenericHeader(reader: ByteReader): GenericHeader {
  const start = reader.offset;
  const nextPayload = reader.u8("generic payload header");
  const flags = reader.u8("generic payload header");
  const length = reader.u16("generic payload header");
  if (length < GENERIC_PAYLOAD_HEADER_LENGTH) {
    throw new DecodeError(
      `Cannot decode generic payload header: payload length ${length} is shorter than 4`,
      start + 2,
    );
  }
  if (length - GENERIC_PAYLOAD_HEADER_LENGTH > reader.remaining) {
    throw new DecodeError(
      `Cannot decode generic payload header: payload length ${length} overruns the ${
        reader.remaining + GENERIC_PAYLOAD_HEADER_LENGTH
      } bytes left`,
      start + 2,
    );
  }
  return { nextPayload, critical: (flags & CRITICAL_BIT) !== 0, length };
}

/**
 * Writes a generic payload header; `length` is the whole payload (4 + body). The engine
 * uses this to build an SK payload by hand: `nextPayload` is then the inner first type
 * (`encodePayloadChain(...).firstType`).
 *
 * @example
 * ```ts
 * encodeGenericHeader({ nextPayload: chain.firstType, critical: false, length: 4 + body.length }, w);
 * ```
 */
export function encodeGenericHeader(header: GenericHeader, writer: ByteWriter): void {
  checkField(header.nextPayload, 0xff, "generic payload header next payload");
  checkField(header.length, 0xffff, "generic payload header length");
  if (header.length < GENERIC_PAYLOAD_HEADER_LENGTH) {
    throw new RangeError(
      `Cannot encode generic payload header: length ${header.length} is shorter than 4`,
    );
  }
  writer.u8(header.nextPayload);
  writer.u8(header.critical ? CRITICAL_BIT : 0);
  writer.u16(header.length);
}
