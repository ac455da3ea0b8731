/**
 * IP address and prefix text forms for configuration values: strict parsing (no leading
 * zeros in IPv4 octets, no zone IDs) and canonical printing (dotted quad; RFC 5952 for IPv6),
 * so that two spellings of one prefix compare equal. The address text itself is lib/wire's.
 */
import { formatIpAddress as formatBytes, tryParseIpAddress } from "../wire/mod.ts";

/** A parsed IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** A parsed prefix: the address as written plus its length in bits. */
export interface IpPrefix extends IpAddress {
  length: number;
}

/**
 * Parses an IPv4 or IPv6 address literal; undefined when `text` is not one.
 *
 * @example
 * ```ts
 * parseIpAddress("198.51.100.1"); // { family: 4, bytes: Uint8Array [198, 51, 100, 1] }
 * parseIpAddress("gw.example.com"); // undefined
 * ```
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const bytes = tryParseIpAddress(text);
  if (bytes === undefined) return undefined;
  return { family: bytes.length === 4 ? 4 : 6, bytes };
}

/**
 * Prints an address canonically: dotted quad, or RFC 5952 IPv6 with an IPv4-mapped address
 * in hex groups like any other ("::ffff:c633:6401").
 *
 * @example
 * ```ts
 * formatIpAddress(parseIpAddress("2001:DB8:0:0:0:0:0:1")!); // "2001:db8::1"
 * ```
 */
export function formatIpAddress(address: IpAddress): string {
  return formatBytes(address.bytes, { mixedNotation: false });
}

/**
 * Parses "address/length" (or a bare address, meaning a host prefix). Returns the prefix or a
 * problem text; it does not judge host bits (see {@link hasHostBits}).
 *
 * @example
 * ```ts
 * parsePrefix("10.1.0.0/24"); // { family: 4, bytes: [10, 1, 0, 0], length: 24 }
 * parsePrefix("10.1.0.0/33"); // "prefix length 33 is out of range 0-32"
 * ```
 */
export function parsePrefix(text: string): IpPrefix | string {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIpAddress(addressText);
  if (!address) return `"${addressText}" is not an IPv4 or IPv6 address`;
  const maxLength = address.family === 4 ? 32 : 128;
  if (slash < 0) return { ...address, length: maxLength };
  const lengthText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lengthText)) {
    return `"${lengthText}" is not a prefix length`;
  }
  const length = Number(lengthText);
  if (length > maxLength) return `prefix length ${length} is out of range 0-${maxLength}`;
  return { ...address, length };
}

/** The host bits of address byte `index` under a prefix of `length` bits. */
function hostMaskOf(length: number, index: number): number {
  return 0xff >> Math.min(8, Math.max(0, length - index * 8));
}

/** True when any bit after the first `prefix.length` bits is set. */
export function hasHostBits(prefix: IpPrefix): boolean {
  return prefix.bytes.some((byte, i) => (byte & hostMaskOf(prefix.length, i)) !== 0);
}

/** The prefix with its host bits cleared (the network). */
export function networkOf(prefix: IpPrefix): IpPrefix {
  const bytes = prefix.bytes.map((byte, i) => byte & ~hostMaskOf(prefix.length, i) & 0xff);
  return { family: prefix.family, bytes, length: prefix.length };
}

/** True when every host bit is set (the IPv4 broadcast address of the prefix). */
export function isAllOnesHost(prefix: IpPrefix): boolean {
  return prefix.bytes.every((byte, i) => {
    const hostMask = hostMaskOf(prefix.length, i);
    return (byte & hostMask) === hostMask;
  });
}

/** Canonical "address/length" text of a prefix. */
export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIpAddress(prefix)}/${prefix.length}`;
}

/** True when the two networks share any address (one contains the other). */
export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.length, b.length);
  const na = networkOf({ ...a, length: shorter });
  const nb = networkOf({ ...b, length: shorter });
  return na.bytes.every((byte, i) => byte === nb.bytes[i]);
}
