/**
 * Payloads this release passes through as raw bodies: CERT (§3.6), CERTREQ (§3.7), EAP
 * (§3.16), SKF (RFC 7383 §2.5), and payload types it does not know at all.
 * Their body layout after the generic header is:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~            Body (kept as bytes, interpreted elsewhere)        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * SKF is, like SK, the last payload; its generic header's Next Payload is kept in
 * `innerFirst`.
 */
import type { ByteReader, ByteWriter } from "../../wire/mod.ts";
import { PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { OpaquePayload, UnknownPayload } from "./types.ts";

/** The payload types decoded as {@link OpaquePayload}. */
export const OPAQUE_PAYLOAD_TYPES: ReadonlySet<number> = new Set([
  PayloadType.Certificate,
  PayloadType.CertificateRequest,
  PayloadType.Eap,
  PayloadType.EncryptedFragment,
]);

/**
 * Reads an opaque payload body (a copy). `nextPayload` is the generic header's field; it is
 * kept as `innerFirst` for SKF only.
 *
 * @example
 * ```ts
 * const eap = decodeOpaque(bodyReader, { type: PayloadType.Eap, critical: false, nextPayload: 0 });
 * ```
 */
export function decodeOpaque(
  reader: ByteReader,
  info: { type: OpaquePayload["type"]; critical: boolean; nextPayload: number },
): OpaquePayload {
  const payload: OpaquePayload = { type: info.type, critical: info.critical, body: reader.rest() };
  if (info.type === PayloadType.EncryptedFragment) payload.innerFirst = info.nextPayload;
  return payload;
}

/**
 * Writes an opaque payload body.
 *
 * @example
 * ```ts
 * encodeOpaque({ type: PayloadType.Eap, critical: false, body: eap }, writer);
 * ```
 */
export function encodeOpaque(value: OpaquePayload, writer: ByteWriter): void {
  checkField(opaqueLength(value), MAX_PAYLOAD_BODY_LENGTH, "payload length");
  writer.bytes(value.body);
}

/**
 * Length of an opaque payload body in bytes.
 *
 * @example
 * ```ts
 * opaqueLength({ type: PayloadType.Eap, critical: false, body: new Uint8Array(5) }); // 5
 * ```
 */
export function opaqueLength(value: OpaquePayload): number {
  return value.body.length;
}

/**
 * Reads the body of a payload whose type is unknown (a copy). The caller decides what a set
 * Critical bit means; `decodeMessage` rejects it.
 *
 * @example
 * ```ts
 * decodeUnknown(bodyReader, { type: 200, critical: false }).unknown; // true
 * ```
 */
export function decodeUnknown(
  reader: ByteReader,
  info: { type: number; critical: boolean },
): UnknownPayload {
  return { type: info.type, unknown: true, critical: info.critical, body: reader.rest() };
}

/**
 * Writes the body of an unknown payload.
 *
 * @example
 * ```ts
 * encodeUnknown({ type: 200, unknown: true, critical: false, body }, writer);
 * ```
 */
export function encodeUnknown(value: UnknownPayload, writer: ByteWriter): void {
  checkField(unknownLength(value), MAX_PAYLOAD_BODY_LENGTH, "payload length");
  writer.bytes(value.body);
}

/**
 * Length of an unknown payload body in bytes.
 *
 * @example
 * ```ts
 * unknownLength({ type: 200, unknown: true, critical: false, body: new Uint8Array(3) }); // 3
 * ```
 */
export function unknownLength(value: UnknownPayload): number {
  return value.body.length;
}
