/**
 * IP address and prefix text forms for configuration values: strict parsing (no leading
 * zeros in IPv4 octets, no zone IDs) and canonical printing (dotted quad; RFC 5952 for IPv6),
 * so that two spellings of one prefix compare equal.
 */

/** A parsed IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** A parsed prefix: the address as written plus its length in bits. */
export interface IpPrefix extends IpAddress {
  length: number;
}

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!IPV4_OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6Groups(
  text: string,
  maxGroups: number,
  allowIpv4Tail: boolean,
): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (allowIpv4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (!v4) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
    groups.push(parseInt(part, 16));
  }
  return groups.length > maxGroups ? undefined : groups;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseIpv6Groups(halves[0]!, 7, false);
    const tail = parseIpv6Groups(halves[1]!, 7, true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseIpv6Groups(text, 8, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
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
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    return bytes ? { family: 6, bytes } : undefined;
  }
  const bytes = parseIpv4(text);
  return bytes ? { family: 4, bytes } : undefined;
}

/**
 * Prints an address canonically: dotted quad, or RFC 5952 IPv6 (lower case, longest run of
 * two or more zero groups compressed, the first such run on a tie).
 *
 * @example
 * ```ts
 * formatIpAddress(parseIpAddress("2001:DB8:0:0:0:0:0:1")!); // "2001:db8::1"
 * ```
 */
export function formatIpAddress(address: IpAddress): string {
  const b = address.bytes;
  if (address.family === 4) return Array.from(b).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => (b[i * 2]! << 8) | b[i * 2 + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
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

/** True when any bit after the first `prefix.length` bits is set. */
export function hasHostBits(prefix: IpPrefix): boolean {
  return prefix.bytes.some((byte, i) => {
    const bitsInByte = Math.min(8, Math.max(0, prefix.length - i * 8));
    const hostMask = 0xff >> bitsInByte;
    return (byte & hostMask) !== 0;
  });
}

/** The prefix with its host bits cleared (the network). */
export function networkOf(prefix: IpPrefix): IpPrefix {
  const bytes = prefix.bytes.map((byte, i) => {
    const bitsInByte = Math.min(8, Math.max(0, prefix.length - i * 8));
    return byte & (0xff << (8 - bitsInByte)) & 0xff;
  });
  return { family: prefix.family, bytes, length: prefix.length };
}

/** True when every host bit is set (the IPv4 broadcast address of the prefix). */
export function isAllOnesHost(prefix: IpPrefix): boolean {
  return prefix.bytes.every((byte, i) => {
    const bitsInByte = Math.min(8, Math.max(0, prefix.length - i * 8));
    const hostMask = 0xff >> bitsInByte;
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
