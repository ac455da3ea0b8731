/**
 * The Vendor ID payload (RFC 7296 §3.12). Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        Vendor ID (VID)                        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
import type { ByteReader, ByteWriter } from "../../wire/mod.ts";
import { PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { VendorIdPayload } from "./types.ts";

/**
 * Reads a Vendor ID payload body (a copy).
 *
 * @example
 * ```ts
 * toHex(decodeVendorId(bodyReader).data);
 * ```
 */
export function decodeVendorId(reader: ByteReader): VendorIdPayload {
  return { type: PayloadType.VendorId, data: reader.rest() };
}

/**
 * Writes a Vendor ID payload body.
 *
 * @example
 * ```ts
 * encodeVendorId({ type: PayloadType.VendorId, data: fromHex("882fe56d6fd20dbc2251613b2ebe5beb") }, w);
 * ```
 */
export function encodeVendorId(value: VendorIdPayload, writer: ByteWriter): void {
  checkField(vendorIdLength(value), MAX_PAYLOAD_BODY_LENGTH, "Vendor ID payload length");
  writer.bytes(value.data);
}

/**
 * Length of a Vendor ID payload body in bytes.
 *
 * @example
 * ```ts
 * vendorIdLength({ type: PayloadType.VendorId, data: new Uint8Array(16) }); // 16
 * ```
 */
export function vendorIdLength(value: VendorIdPayload): number {
  return value.data.length;
}
