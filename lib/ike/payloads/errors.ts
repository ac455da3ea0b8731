/**
 * Typed decode errors the IKE engine answers with a specific notification (RFC 7296 §2.5).
 * Both extend {@link DecodeError}, so a caller that only cares "the message is malformed"
 * can catch that one class.
 */
import { DecodeError } from "../../wire/mod.ts";
import type { IkeHeader } from "./types.ts";

/**
 * The IKE header's major version is not 2. The engine answers a higher version with an
 * unauthenticated INVALID_MAJOR_VERSION notify (RFC 7296 §2.5) and drops anything else
 * (IKEv1 is major version 1); `header` holds the fields needed to build that answer.
 *
 * @example
 * ```ts
 * try {
 *   decodeMessage(datagram);
 * } catch (e) {
 *   if (e instanceof InvalidMajorVersionError && e.majorVersion > 2) {
 *     // answer INVALID_MAJOR_VERSION for e.header.initiatorSpi / e.header.messageId
 *   }
 * }
 * ```
 */
export class InvalidMajorVersionError extends DecodeError {
  /** The major version found in the header. */
  readonly majorVersion: number;
  /** The header as received (its `length` field is not validated). */
  readonly header: IkeHeader;
  constructor(header: IkeHeader, offset: number) {
    super(
      `Cannot decode IKE header: major version ${header.majorVersion} is not 2`,
      offset,
    );
    this.name = "InvalidMajorVersionError";
    this.majorVersion = header.majorVersion;
    this.header = header;
  }
}

/**
 * A payload of an unknown type had its Critical bit set, so the whole message must be
 * rejected; a request is answered with UNSUPPORTED_CRITICAL_PAYLOAD whose notification
 * data is the one-byte `payloadType` (RFC 7296 §2.5, §3.10.1).
 *
 * @example
 * ```ts
 * const e = new UnsupportedCriticalPayloadError(250, 56);
 * e.payloadType; // 250
 * ```
 */
export class UnsupportedCriticalPayloadError extends DecodeError {
  /** The unknown payload type that was marked critical. */
  readonly payloadType: number;
  constructor(payloadType: number, offset: number) {
    super(
      `Cannot decode IKE message: unsupported critical payload type ${payloadType}`,
      offset,
    );
    this.name = "UnsupportedCriticalPayloadError";
    this.payloadType = payloadType;
  }
}
