/**
 * RFC 3948 demultiplexing of UDP port 4500, where IKE, ESP and NAT keepalives share one socket:
 *
 * ```
 *  first 4 bytes 00 00 00 00  → IKE, behind the non-ESP marker (§2.2)
 *  one byte      ff           → NAT keepalive (§2.3)
 *  anything else (≥ 8 bytes)  → ESP; the first 4 bytes are the SPI, never 0 (§2.1)
 * ```
 */
import { NON_ESP_MARKER_LENGTH } from "../ike/mod.ts";
import { ESP_HEADER_LENGTH } from "./constants.ts";

/** What a datagram on port 4500 carries. */
export const UdpEncapKind = {
  /** Not valid on port 4500: too short, or an ESP header cut off. */
  Invalid: 0,
  /** An IKE message after the 4-byte non-ESP marker. */
  Ike: 1,
  /** An ESP packet. */
  Esp: 2,
  /** A NAT-keepalive (a single 0xFF byte). */
  Keepalive: 3,
} as const;
export type UdpEncapKind = typeof UdpEncapKind[keyof typeof UdpEncapKind];

/** The NAT-keepalive payload byte (RFC 3948 §2.3). */
export const NAT_KEEPALIVE_BYTE = 0xff;

/**
 * Classifies a datagram received on port 4500 without copying it. For {@link UdpEncapKind.Ike}
 * the message starts at offset 4 ({@link stripNonEspMarker}); for ESP at offset 0.
 *
 * @example
 * ```ts
 * if (classifyUdpEncap(data) === UdpEncapKind.Esp) handleInboundEsp(sadb, data, device);
 * ```
 */
export function classifyUdpEncap(datagram: Uint8Array): UdpEncapKind {
  const n = datagram.length;
  if (n === 1) {
    return datagram[0] === NAT_KEEPALIVE_BYTE ? UdpEncapKind.Keepalive : UdpEncapKind.Invalid;
  }
  if (n < NON_ESP_MARKER_LENGTH) return UdpEncapKind.Invalid;
  if ((datagram[0]! | datagram[1]! | datagram[2]! | datagram[3]!) === 0) {
    return n > NON_ESP_MARKER_LENGTH ? UdpEncapKind.Ike : UdpEncapKind.Invalid;
  }
  return n >= ESP_HEADER_LENGTH ? UdpEncapKind.Esp : UdpEncapKind.Invalid;
}

/** The SPI of an ESP packet (first 4 bytes, big-endian); the caller checked the length. */
export function espSpiOf(packet: Uint8Array): number {
  return ((packet[0]! << 24) | (packet[1]! << 16) | (packet[2]! << 8) | packet[3]!) >>> 0;
}

/** The IKE message inside a port-4500 datagram classified as {@link UdpEncapKind.Ike}. */
export function stripNonEspMarker(datagram: Uint8Array): Uint8Array {
  return datagram.subarray(NON_ESP_MARKER_LENGTH);
}

/**
 * A copy of `ikeMessage` behind the non-ESP marker, for sending IKE on port 4500.
 *
 * @example
 * ```ts
 * await socket.send(addNonEspMarker(message), peer4500);
 * ```
 */
export function addNonEspMarker(ikeMessage: Uint8Array): Uint8Array {
  const out = new Uint8Array(NON_ESP_MARKER_LENGTH + ikeMessage.length);
  out.set(ikeMessage, NON_ESP_MARKER_LENGTH);
  return out;
}

/** A new NAT-keepalive datagram (RFC 3948 §2.3): the single byte 0xFF. */
export function buildNatKeepalive(): Uint8Array {
  return Uint8Array.of(NAT_KEEPALIVE_BYTE);
}
