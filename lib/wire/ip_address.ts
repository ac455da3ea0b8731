/**
 * IP address text ↔ bytes (4 bytes for IPv4, 16 for IPv6): the one parser and printer behind
 * IKE identities and traffic selectors, configuration values, ESP prefixes and logs. Parsing
 * is strict (dotted quad without leading zeros; RFC 4291 IPv6 text without zone); printing
 * follows RFC 5952 (lower case, longest run of two or more zero groups compressed, the first
 * such run on a tie).
 */

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses an IPv4 or IPv6 address; returns 4 or 16 bytes, or `undefined` when `text` is not
 * an address. Use {@link parseIpAddress} to get an error instead.
 *
 * @example
 * ```ts
 * tryParseIpAddress("198.51.100.1"); // Uint8Array [198, 51, 100, 1]
 * tryParseIpAddress("gw.example.com"); // undefined
 * ```
 */
export function tryParseIpAddress(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/**
 * Parses an IPv4 or IPv6 address into 4 or 16 bytes.
 *
 * @throws {SyntaxError} when `text` is not an address.
 *
 * @example
 * ```ts
 * parseIpAddress("2001:db8::1").length; // 16
 * ```
 */
export function parseIpAddress(text: string): Uint8Array {
  const bytes = tryParseIpAddress(text);
  if (bytes === undefined) {
    throw new SyntaxError(`Cannot parse IP address: "${text}" is not an IPv4 or IPv6 address`);
  }
  return bytes;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!IPV4_PART.test(part)) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

function parseIpv6Groups(text: string): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!IPV6_GROUP.test(part)) return undefined;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = parseIpv6Groups(halves[0]!);
  const tail = halves.length === 2 ? parseIpv6Groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return undefined;
  const explicit = head.length + tail.length;
  if (halves.length === 2 ? explicit > 7 : explicit !== 8) return undefined;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >>> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Options for {@link formatIpAddress}. */
export interface FormatIpAddressOptions {
  /**
   * Print an IPv4-mapped IPv6 address in RFC 5952 §5 mixed notation (`::ffff:192.0.2.1`);
   * `false` prints it like any other IPv6 address (`::ffff:c000:201`). Default `true`.
   */
  mixedNotation?: boolean;
}

/**
 * Prints 4 or 16 address bytes (RFC 5952 for IPv6; IPv4-mapped as `::ffff:a.b.c.d` unless
 * `options.mixedNotation` is false).
 *
 * @throws {RangeError} for any other length.
 *
 * @example
 * ```ts
 * formatIpAddress(parseIpAddress("2001:0db8:0:0:0:0:0:1")); // "2001:db8::1"
 * formatIpAddress(parseIpAddress("::ffff:192.0.2.1"), { mixedNotation: false }); // "::ffff:c000:201"
 * ```
 */
export function formatIpAddress(bytes: Uint8Array, options: FormatIpAddressOptions = {}): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) {
    throw new RangeError(`Cannot format IP address: ${bytes.length} bytes is neither 4 nor 16`);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped && options.mixedNotation !== false) return `::ffff:${bytes.subarray(12).join(".")}`;
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed (RFC 5952 §4.2.2)
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
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * Orders addresses as unsigned big-endian numbers, IPv4 before IPv6. Returns a negative
 * number, 0 or a positive number.
 *
 * @example
 * ```ts
 * compareAddresses(parseIpAddress("10.0.0.1"), parseIpAddress("10.0.0.2")); // -1
 * ```
 */
export function compareAddresses(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
