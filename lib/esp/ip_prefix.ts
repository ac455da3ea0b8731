/**
 * IP prefixes for traffic selectors and the outbound route table, stored as 32-bit words so
 * that matching a packet's address is integer compares on the packet bytes, no allocation.
 * Address text (control path only) is lib/wire's.
 */
import { formatIpAddress, tryParseIpAddress } from "../wire/mod.ts";

/** An IPv4 or IPv6 prefix; `words` holds the masked network address, big-endian words. */
export interface IpPrefix {
  readonly family: 4 | 6;
  /** Prefix length in bits: 0..32 (IPv4) or 0..128 (IPv6). */
  readonly length: number;
  /** IPv4: one word; IPv6: four words. Host bits are zero. */
  readonly words: Uint32Array;
  /** Canonical text, e.g. "10.2.0.0/24" or "2001:db8::/32". */
  readonly text: string;
}

/** Offsets of the source and destination addresses in IPv4 (RFC 791) and IPv6 (RFC 8200). */
const IPV4_SOURCE = 12;
const IPV4_DESTINATION = 16;
const IPV4_MIN_HEADER = 20;
const IPV6_SOURCE = 8;
const IPV6_DESTINATION = 24;
const IPV6_HEADER = 40;

/** The netmask word for `bits` (0..32) leading one bits. */
export function maskOf(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffff_ffff : (0xffff_ffff << (32 - bits)) >>> 0;
}

/**
 * Text of 4 or 16 address bytes for prefixes and logs (control path, allocates). Like the
 * configuration, ESP prints an IPv4-mapped IPv6 address in hex groups ("::ffff:a00:1").
 *
 * @example
 * ```ts
 * formatAddressBytes(packet.subarray(16, 20)); // "10.2.0.9", an IPv4 destination
 * ```
 */
export function formatAddressBytes(bytes: Uint8Array): string {
  return formatIpAddress(bytes, { mixedNotation: false });
}

/** Builds a prefix from address words and a length, masking host bits. */
export function prefixOf(words: Uint32Array, length: number): IpPrefix {
  const family = words.length === 1 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(length) || length < 0 || length > max) {
    throw new RangeError(`Cannot build IPv${family} prefix: length ${length} not in 0..${max}`);
  }
  const masked = new Uint32Array(words.length);
  const bytes = new Uint8Array(4 * words.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < words.length; i++) {
    masked[i] = (words[i]! & maskOf(length - 32 * i)) >>> 0;
    view.setUint32(4 * i, masked[i]!);
  }
  return { family, length, words: masked, text: `${formatAddressBytes(bytes)}/${length}` };
}

/**
 * Parses "a.b.c.d/len", "x:y::/len" or a bare address (a host prefix). Host bits are cleared.
 * Throws `SyntaxError` on anything else.
 *
 * @example
 * ```ts
 * parsePrefix("10.2.0.7/24").text; // "10.2.0.0/24"
 * ```
 */
export function parsePrefix(text: string): IpPrefix {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = tryParseIpAddress(addressText.trim());
  if (!address) throw new SyntaxError(`Cannot parse prefix "${text}": invalid address`);
  const max = address.length * 8;
  let length = max;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
      throw new SyntaxError(`Cannot parse prefix "${text}": length not in 0..${max}`);
    }
    length = Number(lengthText);
  }
  return prefixFromBytes(address, length);
}

/**
 * Builds a prefix from a 4- or 16-byte address (as IKE traffic selectors and the config's
 * parsed prefixes carry it) and a length, masking host bits. Throws `RangeError` otherwise.
 *
 * @example
 * ```ts
 * prefixFromBytes(new Uint8Array([10, 2, 0, 9]), 24).text; // "10.2.0.0/24"
 * ```
 */
export function prefixFromBytes(bytes: Uint8Array, length: number): IpPrefix {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new RangeError(`Cannot build prefix: address is ${bytes.length} bytes, not 4 or 16`);
  }
  const words = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = readAddressWord(bytes, 4 * i);
  return prefixOf(words, length);
}

/** Reads the big-endian 32-bit word at `offset` of `packet` (no bounds check). */
export function readAddressWord(packet: Uint8Array, offset: number): number {
  return ((packet[offset]! << 24) | (packet[offset + 1]! << 16) | (packet[offset + 2]! << 8) |
    packet[offset + 3]!) >>> 0;
}

/** True when `packet` (IPv4 or IPv6) has a complete fixed header; 4 or 6, else 0. */
export function ipVersionOf(packet: Uint8Array): 0 | 4 | 6 {
  if (packet.length === 0) return 0;
  const v = packet[0]! >> 4;
  if (v === 4 && packet.length >= IPV4_MIN_HEADER) return 4;
  if (v === 6 && packet.length >= IPV6_HEADER) return 6;
  return 0;
}

/** Offset of the destination (or source) address in an IPv4/IPv6 packet of `version`. */
export function addressOffset(version: 4 | 6, which: "source" | "destination"): number {
  if (version === 4) return which === "source" ? IPV4_SOURCE : IPV4_DESTINATION;
  return which === "source" ? IPV6_SOURCE : IPV6_DESTINATION;
}

/**
 * True when the address at `offset` of `packet` (4 bytes for an IPv4 prefix, 16 for IPv6)
 * lies inside `prefix`. The caller has checked the packet is long enough.
 */
export function prefixContainsAt(prefix: IpPrefix, packet: Uint8Array, offset: number): boolean {
  const w = prefix.words;
  if (prefix.family === 4) {
    return ((readAddressWord(packet, offset) & maskOf(prefix.length)) >>> 0) === w[0];
  }
  for (let i = 0; i < 4; i++) {
    const bits = prefix.length - 32 * i;
    if (bits <= 0) return true;
    if (((readAddressWord(packet, offset + 4 * i) & maskOf(bits)) >>> 0) !== w[i]) return false;
  }
  return true;
}

/** True when the source address of the IPv4/IPv6 `packet` lies in any of `prefixes`. */
export function sourceInPrefixes(packet: Uint8Array, prefixes: readonly IpPrefix[]): boolean {
  const version = ipVersionOf(packet);
  if (version === 0) return false;
  const offset = version === 4 ? IPV4_SOURCE : IPV6_SOURCE;
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    if (p.family === version && prefixContainsAt(p, packet, offset)) return true;
  }
  return false;
}
