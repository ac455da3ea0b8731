/**
 * Whole IKE messages (RFC 7296 §3): the IKE header followed by a chain of payloads, each
 * behind a generic payload header whose Next Payload names the type of the one after it.
 *
 * ```
 * +-------------+--------------------+------+--------------------+------+---
 * | IKE header  | generic hdr (next) | body | generic hdr (next) | body | ...
 * | (28 bytes)  | (4 bytes)          |      | (4 bytes)          |      |
 * +-------------+--------------------+------+--------------------+------+---
 * ```
 *
 * Decoding rules (shared by {@link decodeMessage} and {@link decodePayloadChain}):
 * - the header's Length must equal the datagram length;
 * - every payload length is at least 4 and stays inside the message; the chain must end
 *   (Next Payload 0) exactly at the end of the message;
 * - every payload body must be consumed exactly by its decoder;
 * - SK and SKF end the chain: their Next Payload is the first *inner* payload type, and
 *   anything after them is an error;
 * - a payload of unknown type is kept as an `UnknownPayload`, unless its Critical bit is set,
 *   which throws {@link UnsupportedCriticalPayloadError} (RFC 7296 §2.5); the Critical bit of
 *   known payloads is ignored.
 *
 * Every failure is a {@link DecodeError} (or a subclass) carrying the offset.
 */
import { ByteReader, ByteWriter, DecodeError } from "../../wire/mod.ts";
import { GENERIC_PAYLOAD_HEADER_LENGTH, nameOf, PayloadType } from "../constants.ts";
import { authLength, decodeAuth, encodeAuth } from "./auth.ts";
import { cpLength, decodeCp, encodeCp } from "./cp.ts";
import { decodeDelete, deleteLength, encodeDelete } from "./delete.ts";
import { UnsupportedCriticalPayloadError } from "./errors.ts";
import { decodeGenericHeader, encodeGenericHeader, type GenericHeader } from "./generic.ts";
import { decodeHeader, encodeHeader } from "./header.ts";
import { decodeId, encodeId, idLength } from "./id.ts";
import { decodeKe, encodeKe, keLength } from "./ke.ts";
import { decodeNonce, encodeNonce, nonceLength } from "./nonce.ts";
import { decodeNotify, encodeNotify, notifyLength } from "./notify.ts";
import {
  decodeOpaque,
  decodeUnknown,
  encodeOpaque,
  encodeUnknown,
  OPAQUE_PAYLOAD_TYPES,
  opaqueLength,
  unknownLength,
} from "./opaque.ts";
import { decodeSa, encodeSa, saLength } from "./sa.ts";
import { decodeEncrypted, encodeEncrypted, encryptedLength } from "./sk.ts";
import { decodeTs, encodeTs, tsLength } from "./ts.ts";
import type { IkeHeader, IkeMessage, OpaquePayload, Payload } from "./types.ts";
import { decodeVendorId, encodeVendorId, vendorIdLength } from "./vendor_id.ts";

/**
 * Decodes a whole IKE message (without the non-ESP marker). An SK payload stays encrypted;
 * its body ends the datagram, so the associated data / ICV input is
 * `bytes.subarray(0, bytes.length - sk.body.length)`.
 *
 * @throws {InvalidMajorVersionError} when the major version is not 2.
 * @throws {UnsupportedCriticalPayloadError} for an unknown payload with the Critical bit.
 * @throws {DecodeError} for anything else that is malformed.
 *
 * @example
 * ```ts
 * const { header, payloads } = decodeMessage(datagram);
 * const nonce = payloads.find((p) => p.type === PayloadType.Nonce);
 * ```
 */
export function decodeMessage(bytes: Uint8Array): IkeMessage {
  const reader = new ByteReader(bytes);
  const header = decodeHeader(reader);
  if (header.length !== bytes.length) {
    throw new DecodeError(
      `Cannot decode IKE message: header length ${header.length} does not match the ${bytes.length}-byte datagram`,
      24,
    );
  }
  return { header, payloads: decodeChain(header.nextPayload, reader) };
}

/**
 * Decodes a payload chain that starts with a payload of type `firstType`, e.g. the
 * decrypted plaintext of an SK payload (`firstType` = `sk.innerFirst`). Error offsets are
 * shifted by `baseOffset`, so they can point into the original datagram.
 *
 * @example
 * ```ts
 * const inner = decodePayloadChain(sk.innerFirst, plaintext);
 * ```
 */
export function decodePayloadChain(
  firstType: number,
  bytes: Uint8Array,
  baseOffset = 0,
): Payload[] {
  try {
    return decodeChain(firstType, new ByteReader(bytes));
  } catch (e) {
    if (baseOffset !== 0 && e instanceof DecodeError) throw shiftDecodeError(e, baseOffset);
    throw e;
  }
}

function shiftDecodeError(e: DecodeError, by: number): DecodeError {
  if (e instanceof UnsupportedCriticalPayloadError) {
    return new UnsupportedCriticalPayloadError(e.payloadType, e.offset + by);
  }
  return new DecodeError(e.message.replace(/ \(at offset \d+\)$/, ""), e.offset + by);
}

function isEncryptedType(type: number): boolean {
  return type === PayloadType.Encrypted || type === PayloadType.EncryptedFragment;
}

function decodeChain(firstType: number, reader: ByteReader): Payload[] {
  const payloads: Payload[] = [];
  let type = firstType;
  while (type !== PayloadType.None) {
    const start = reader.offset;
    if (reader.remaining === 0) {
      throw new DecodeError(
        `Cannot decode payload chain: a ${
          nameOf(PayloadType, type)
        } payload (type ${type}) is announced but the message ends`,
        start,
      );
    }
    const generic = decodeGenericHeader(reader);
    const body = reader.sub(generic.length - GENERIC_PAYLOAD_HEADER_LENGTH, "payload body");
    payloads.push(decodeBody(type, generic, body, start));
    if (body.remaining !== 0) {
      throw new DecodeError(
        `Cannot decode ${
          nameOf(PayloadType, type)
        } payload: ${body.remaining} unexpected trailing bytes`,
        body.offset,
      );
    }
    if (isEncryptedType(type)) {
      if (reader.remaining !== 0) {
        throw new DecodeError(
          `Cannot decode payload chain: the ${
            type === PayloadType.Encrypted ? "SK" : "SKF"
          } payload is not the last payload (${reader.remaining} bytes follow)`,
          reader.offset,
        );
      }
      return payloads;
    }
    type = generic.nextPayload;
  }
  if (reader.remaining !== 0) {
    throw new DecodeError(
      `Cannot decode payload chain: ${reader.remaining} bytes after the last payload`,
      reader.offset,
    );
  }
  return payloads;
}

function decodeBody(
  type: number,
  generic: GenericHeader,
  body: ByteReader,
  start: number,
): Payload {
  switch (type) {
    case PayloadType.SecurityAssociation:
      return decodeSa(body);
    case PayloadType.KeyExchange:
      return decodeKe(body);
    case PayloadType.IdInitiator:
      return decodeId(body, PayloadType.IdInitiator);
    case PayloadType.IdResponder:
      return decodeId(body, PayloadType.IdResponder);
    case PayloadType.Authentication:
      return decodeAuth(body);
    case PayloadType.Nonce:
      return decodeNonce(body);
    case PayloadType.Notify:
      return decodeNotify(body);
    case PayloadType.Delete:
      return decodeDelete(body);
    case PayloadType.VendorId:
      return decodeVendorId(body);
    case PayloadType.TsInitiator:
      return decodeTs(body, PayloadType.TsInitiator);
    case PayloadType.TsResponder:
      return decodeTs(body, PayloadType.TsResponder);
    case PayloadType.Encrypted:
      return decodeEncrypted(body, generic.nextPayload);
    case PayloadType.Configuration:
      return decodeCp(body);
  }
  if (OPAQUE_PAYLOAD_TYPES.has(type)) {
    return decodeOpaque(body, {
      type: type as OpaquePayload["type"],
      critical: generic.critical,
      nextPayload: generic.nextPayload,
    });
  }
  if (generic.critical) throw new UnsupportedCriticalPayloadError(type, start);
  return decodeUnknown(body, { type, critical: false });
}

/**
 * Length of a payload's body in bytes (without its 4-byte generic header).
 *
 * @example
 * ```ts
 * payloadBodyLength({ type: PayloadType.Nonce, nonce: new Uint8Array(32) }); // 32
 * ```
 */
export function payloadBodyLength(payload: Payload): number {
  if ("unknown" in payload) return unknownLength(payload);
  switch (payload.type) {
    case PayloadType.SecurityAssociation:
      return saLength(payload);
    case PayloadType.KeyExchange:
      return keLength(payload);
    case PayloadType.IdInitiator:
    case PayloadType.IdResponder:
      return idLength(payload);
    case PayloadType.Authentication:
      return authLength(payload);
    case PayloadType.Nonce:
      return nonceLength(payload);
    case PayloadType.Notify:
      return notifyLength(payload);
    case PayloadType.Delete:
      return deleteLength(payload);
    case PayloadType.VendorId:
      return vendorIdLength(payload);
    case PayloadType.TsInitiator:
    case PayloadType.TsResponder:
      return tsLength(payload);
    case PayloadType.Encrypted:
      return encryptedLength(payload);
    case PayloadType.Configuration:
      return cpLength(payload);
    default:
      return opaqueLength(payload);
  }
}

function encodeBody(payload: Payload, writer: ByteWriter): void {
  if ("unknown" in payload) return encodeUnknown(payload, writer);
  switch (payload.type) {
    case PayloadType.SecurityAssociation:
      return encodeSa(payload, writer);
    case PayloadType.KeyExchange:
      return encodeKe(payload, writer);
    case PayloadType.IdInitiator:
    case PayloadType.IdResponder:
      return encodeId(payload, writer);
    case PayloadType.Authentication:
      return encodeAuth(payload, writer);
    case PayloadType.Nonce:
      return encodeNonce(payload, writer);
    case PayloadType.Notify:
      return encodeNotify(payload, writer);
    case PayloadType.Delete:
      return encodeDelete(payload, writer);
    case PayloadType.VendorId:
      return encodeVendorId(payload, writer);
    case PayloadType.TsInitiator:
    case PayloadType.TsResponder:
      return encodeTs(payload, writer);
    case PayloadType.Encrypted:
      return encodeEncrypted(payload, writer);
    case PayloadType.Configuration:
      return encodeCp(payload, writer);
    default:
      return encodeOpaque(payload, writer);
  }
}

/** Critical bit as sent: 0 for payloads we understand, the recorded bit for pass-through ones. */
function criticalOf(payload: Payload): boolean {
  return "critical" in payload ? payload.critical : false;
}

function writeChain(payloads: readonly Payload[], writer: ByteWriter): void {
  payloads.forEach((payload, i) => {
    const following = payloads[i + 1];
    let nextPayload: number;
    if (isEncryptedType(payload.type) && !("unknown" in payload)) {
      if (following !== undefined) {
        throw new RangeError(
          `Cannot encode payload chain: the ${
            payload.type === PayloadType.Encrypted ? "SK" : "SKF"
          } payload must be the last payload`,
        );
      }
      nextPayload = "innerFirst" in payload ? payload.innerFirst ?? 0 : 0;
    } else {
      nextPayload = following?.type ?? PayloadType.None;
    }
    const bodyLength = payloadBodyLength(payload);
    encodeGenericHeader({
      nextPayload,
      critical: criticalOf(payload),
      length: GENERIC_PAYLOAD_HEADER_LENGTH + bodyLength,
    }, writer);
    const bodyStart = writer.length;
    encodeBody(payload, writer);
    if (writer.length - bodyStart !== bodyLength) {
      throw new Error(
        `Cannot encode ${nameOf(PayloadType, payload.type)} payload: wrote ${
          writer.length - bodyStart
        } bytes, expected ${bodyLength}`,
      );
    }
  });
}

/**
 * Encodes payloads with generic headers chained by Next Payload; `firstType` goes into
 * whatever precedes the chain (the IKE header, or an SK payload's generic header when the
 * chain is the SK plaintext). An SK or SKF payload must be last.
 *
 * @example
 * ```ts
 * const { firstType, bytes } = encodePayloadChain([idi, auth, sa, tsi, tsr]);
 * // pad + encrypt `bytes`, then build the SK payload with innerFirst = firstType
 * ```
 */
export function encodePayloadChain(
  payloads: readonly Payload[],
): { firstType: number; bytes: Uint8Array } {
  const writer = new ByteWriter(512);
  writeChain(payloads, writer);
  return { firstType: payloads[0]?.type ?? PayloadType.None, bytes: writer.finish() };
}

/**
 * Encodes a whole message; fills the header's Next Payload and Length.
 *
 * For an encrypted message, pass the SK payload with a zero-filled body of its final length
 * (IV + padded ciphertext + ICV) and fill it in place afterwards: everything before the body
 * is the associated data (AEAD) or the start of the ICV input (CBC + HMAC).
 *
 * @example
 * ```ts
 * const inner = encodePayloadChain(innerPayloads);
 * const sk = { type: PayloadType.Encrypted, innerFirst: inner.firstType, body: new Uint8Array(n) } as const;
 * const out = encodeMessage(header, [sk]);
 * const aad = out.subarray(0, out.length - n); // IKE header + SK generic header
 * const body = out.subarray(out.length - n); // write IV | ciphertext | ICV here
 * ```
 */
export function encodeMessage(
  header: Omit<IkeHeader, "length" | "nextPayload">,
  payloads: readonly Payload[],
): Uint8Array {
  const writer = new ByteWriter(1024);
  encodeHeader(
    { ...header, nextPayload: payloads[0]?.type ?? PayloadType.None, length: 0 },
    writer,
  );
  writeChain(payloads, writer);
  writer.patch32(24, writer.length);
  return writer.finish();
}
