/**
 * Traffic selector arithmetic (RFC 7296 §2.9): intersection for narrowing, subset checks for
 * the initiator, and conversion of address ranges to prefixes for the route table.
 */
import { TsType } from "./constants.ts";
import {
  compareAddresses,
  formatIpAddress,
  trafficSelectorFromText,
  trafficSelectorToText,
} from "./payloads/mod.ts";
import type { TrafficSelector } from "./payloads/types.ts";

/** A big-endian address (or any byte string) as an unsigned integer. */
export function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** The low `length` bytes of `v`, big-endian: the inverse of {@link toBigInt}. */
export function fromBigInt(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function addressLength(tsType: number): number {
  return tsType === TsType.Ipv6AddrRange ? 16 : 4;
}

/** Parses "10.1.0.0/24" (any text form of `trafficSelectorFromText`). */
export const selectorFromCidr = trafficSelectorFromText;

/** Formats a selector for logs: "10.1.0.0/24", "10.1.0.5-10.1.0.9", "10.1.0.0/24[6/443]". */
export const formatSelector = trafficSelectorToText;

/** The intersection of two selectors, or undefined when they do not overlap. */
export function intersectSelectors(
  a: TrafficSelector,
  b: TrafficSelector,
): TrafficSelector | undefined {
  if (a.tsType !== b.tsType) return undefined;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return undefined;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (startPort > endPort) return undefined;
  const start = compareAddresses(a.startAddress, b.startAddress) >= 0
    ? a.startAddress
    : b.startAddress;
  const end = compareAddresses(a.endAddress, b.endAddress) <= 0 ? a.endAddress : b.endAddress;
  if (compareAddresses(start, end) > 0) return undefined;
  return {
    tsType: a.tsType,
    ipProtocol: a.ipProtocol !== 0 ? a.ipProtocol : b.ipProtocol,
    startPort,
    endPort,
    startAddress: start.slice(),
    endAddress: end.slice(),
  };
}

/**
 * Responder narrowing: every non-empty intersection of an offered selector with a configured
 * one, without duplicates. Empty means TS_UNACCEPTABLE.
 */
export function narrowSelectors(
  offered: readonly TrafficSelector[],
  configured: readonly TrafficSelector[],
): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const o of offered) {
    for (const c of configured) {
      const i = intersectSelectors(o, c);
      if (i && !out.some((x) => selectorEquals(x, i))) out.push(i);
    }
  }
  return out;
}

/** True when both selectors have the same type, protocol, ports and address range. */
export function selectorEquals(a: TrafficSelector, b: TrafficSelector): boolean {
  return a.tsType === b.tsType && a.ipProtocol === b.ipProtocol && a.startPort === b.startPort &&
    a.endPort === b.endPort && compareAddresses(a.startAddress, b.startAddress) === 0 &&
    compareAddresses(a.endAddress, b.endAddress) === 0;
}

/** True when `inner` lies wholly inside one of `outer` (initiator's check of the answer). */
export function isCoveredBy(inner: TrafficSelector, outer: readonly TrafficSelector[]): boolean {
  return outer.some((o) => {
    const i = intersectSelectors(inner, o);
    return i !== undefined && selectorEquals(i, inner);
  });
}

/** Splits the address range of `ts` into the fewest CIDR prefixes (for routes). */
export function rangeToPrefixes(ts: TrafficSelector): string[] {
  const length = addressLength(ts.tsType);
  const bits = length * 8;
  let start = toBigInt(ts.startAddress);
  const end = toBigInt(ts.endAddress);
  const out: string[] = [];
  while (start <= end) {
    let size = 0;
    while (size < bits) {
      const next = size + 1;
      const mask = (1n << BigInt(next)) - 1n;
      if ((start & mask) !== 0n || start + mask > end) break;
      size = next;
    }
    out.push(`${formatIpAddress(fromBigInt(start, length))}/${bits - size}`);
    start += 1n << BigInt(size);
    if (out.length > 64) break; // pathological ranges: routes are a convenience, not policy
  }
  return out;
}
