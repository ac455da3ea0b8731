/**
 * Traffic selectors ↔ text, for config files and logs. The text form is an address part and
 * an optional `[protocol/ports]` suffix:
 *
 * | text                      | selector                                           |
 * |---------------------------|----------------------------------------------------|
 * | `10.1.0.0/24`             | 10.1.0.0 – 10.1.0.255, any protocol, any port      |
 * | `198.51.100.7`            | that one address (a /32 or /128)                   |
 * | `10.1.0.5-10.1.0.9`       | an explicit range                                  |
 * | `2001:db8::/32`           | TS_IPV6_ADDR_RANGE                                 |
 * | `10.1.0.0/24[6/443]`      | TCP to/from port 443 (`[17]`, `[6/1024-2048]` too) |
 *
 * Host bits after a prefix length are masked off (`10.1.0.5/24` is `10.1.0.0/24`), as
 * strongSwan does.
 */
import { compareAddresses, formatIpAddress, tryParseIpAddress } from "../../wire/mod.ts";
import { TsType } from "../constants.ts";
import type { TrafficSelector } from "./types.ts";

const SUFFIX = /^(.*)\[([0-9]{1,3})(?:\/([0-9]{1,5})(?:-([0-9]{1,5}))?)?\]$/;
const PREFIX_LENGTH = /^[0-9]{1,3}$/;

/**
 * Parses the text form of a traffic selector.
 *
 * @throws {SyntaxError} naming the problem.
 *
 * @example
 * ```ts
 * const ts = trafficSelectorFromText("10.1.0.0/24");
 * formatIpAddress(ts.endAddress); // "10.1.0.255"
 * ```
 */
export function trafficSelectorFromText(text: string): TrafficSelector {
  const fail: (why: string) => never = (why) => {
    throw new SyntaxError(`Cannot parse traffic selector "${text.slice(0, 80)}": ${why}`);
  };
  let addressText = text.trim();
  let ipProtocol = 0;
  let startPort = 0;
  let endPort = 0xffff;
  const suffix = SUFFIX.exec(addressText);
  if (suffix) {
    addressText = suffix[1]!;
    ipProtocol = Number(suffix[2]);
    if (ipProtocol > 255) fail(`protocol ${ipProtocol} is outside 0..255`);
    if (suffix[3] !== undefined) {
      startPort = Number(suffix[3]);
      endPort = suffix[4] !== undefined ? Number(suffix[4]) : startPort;
      if (startPort > 0xffff || endPort > 0xffff) fail("a port is outside 0..65535");
    }
  }
  const dash = addressText.indexOf("-");
  if (dash >= 0) {
    const start = tryParseIpAddress(addressText.slice(0, dash));
    const end = tryParseIpAddress(addressText.slice(dash + 1));
    if (start === undefined || end === undefined) fail("a range needs two IP addresses");
    if (start.length !== end.length) fail("a range cannot mix IPv4 and IPv6");
    if (compareAddresses(start, end) > 0) fail("the range starts after it ends");
    return selector(start, end, { ipProtocol, startPort, endPort });
  }
  const slash = addressText.indexOf("/");
  const address = tryParseIpAddress(slash >= 0 ? addressText.slice(0, slash) : addressText);
  if (address === undefined) fail("it does not start with an IP address");
  const bits = address.length * 8;
  let prefixLength = bits;
  if (slash >= 0) {
    const lengthText = addressText.slice(slash + 1);
    prefixLength = Number(lengthText);
    if (!PREFIX_LENGTH.test(lengthText) || prefixLength > bits) {
      fail(`prefix length "${lengthText}" is outside 0..${bits}`);
    }
  }
  const start = address.slice();
  const end = address.slice();
  for (let bit = prefixLength; bit < bits; bit++) {
    const mask = 0x80 >>> (bit % 8);
    start[bit >>> 3]! &= ~mask;
    end[bit >>> 3]! |= mask;
  }
  return selector(start, end, { ipProtocol, startPort, endPort });
}

function selector(
  start: Uint8Array,
  end: Uint8Array,
  rest: { ipProtocol: number; startPort: number; endPort: number },
): TrafficSelector {
  return {
    tsType: start.length === 4 ? TsType.Ipv4AddrRange : TsType.Ipv6AddrRange,
    ...rest,
    startAddress: start,
    endAddress: end,
  };
}

function bitAt(bytes: Uint8Array, bit: number): number {
  return (bytes[bit >>> 3]! >>> (7 - (bit % 8))) & 1;
}

/** The prefix length if start..end is exactly one CIDR block. */
function prefixLengthOf(start: Uint8Array, end: Uint8Array): number | undefined {
  let p = start.length * 8;
  while (p > 0 && bitAt(start, p - 1) === 0 && bitAt(end, p - 1) === 1) p--;
  for (let i = 0; i < p; i++) if (bitAt(start, i) !== bitAt(end, i)) return undefined;
  return p;
}

/**
 * Prints a traffic selector in the form {@link trafficSelectorFromText} reads: a CIDR block
 * when the range is one, a single address for a /32 or /128, else `start-end`.
 *
 * @example
 * ```ts
 * trafficSelectorToText(trafficSelectorFromText("10.1.0.0/24[6/443]")); // "10.1.0.0/24[6/443]"
 * ```
 */
export function trafficSelectorToText(ts: TrafficSelector): string {
  const { startAddress: start, endAddress: end } = ts;
  let text: string;
  const prefix = start.length === end.length ? prefixLengthOf(start, end) : undefined;
  if (prefix === start.length * 8) text = formatIpAddress(start);
  else if (prefix !== undefined) text = `${formatIpAddress(start)}/${prefix}`;
  else text = `${formatIpAddress(start)}-${formatIpAddress(end)}`;
  const anyPort = ts.startPort === 0 && ts.endPort === 0xffff;
  if (ts.ipProtocol === 0 && anyPort) return text;
  if (anyPort) return `${text}[${ts.ipProtocol}]`;
  const ports = ts.startPort === ts.endPort ? `${ts.startPort}` : `${ts.startPort}-${ts.endPort}`;
  return `${text}[${ts.ipProtocol}/${ports}]`;
}

/**
 * Whether `address` (4 or 16 bytes) lies in the selector's address range; protocol and ports
 * are not considered.
 *
 * @example
 * ```ts
 * selectorContainsAddress(trafficSelectorFromText("10.1.0.0/24"), parseIpAddress("10.1.0.9")); // true
 * ```
 */
export function selectorContainsAddress(ts: TrafficSelector, address: Uint8Array): boolean {
  return address.length === ts.startAddress.length &&
    compareAddresses(ts.startAddress, address) <= 0 &&
    compareAddresses(address, ts.endAddress) <= 0;
}
