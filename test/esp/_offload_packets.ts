/**
 * Crafted TCP/UDP packets and offload-TUN frames for the GSO split / GRO coalesce tests, built
 * with an independent, deliberately naive checksum (byte by byte, folded at every step) so
 * that the code under test is not checked against itself.
 */

/** RFC 1071 checksum of the concatenation of `parts`, naive: 0 means "verifies". */
export function naiveChecksum(...parts: Uint8Array[]): number {
  const all: number[] = [];
  for (const part of parts) for (const byte of part) all.push(byte);
  if (all.length % 2 === 1) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) {
    sum += all[i]! * 256 + all[i + 1]!;
    if (sum > 0xffff) sum = sum - 0x10000 + 1;
  }
  return 0xffff - sum;
}

/** The pseudo-header of `packet` (IPv4 or IPv6) for `protocol` and transport `length`. */
export function pseudoHeader(packet: Uint8Array, protocol: number, length: number): Uint8Array {
  if (packet[0]! >> 4 === 6) {
    const p = new Uint8Array(40);
    p.set(packet.subarray(8, 40), 0);
    p[34] = length >> 8;
    p[35] = length & 0xff;
    p[39] = protocol;
    return p;
  }
  const p = new Uint8Array(12);
  p.set(packet.subarray(12, 20), 0);
  p[9] = protocol;
  p[10] = length >> 8;
  p[11] = length & 0xff;
  return p;
}

/** IP header length of `packet`. */
export function ipHeaderLengthOf(packet: Uint8Array): number {
  return packet[0]! >> 4 === 6 ? 40 : (packet[0]! & 0x0f) * 4;
}

/** True when the transport checksum of a TCP or UDP `packet` verifies. */
export function transportChecksumOk(packet: Uint8Array): boolean {
  const ihl = ipHeaderLengthOf(packet);
  const protocol = packet[0]! >> 4 === 6 ? packet[6]! : packet[9]!;
  const transport = packet.subarray(ihl);
  return naiveChecksum(pseudoHeader(packet, protocol, transport.length), transport) === 0;
}

/** True when the IPv4 header checksum verifies (IPv6: always true). */
export function ipv4HeaderChecksumOk(packet: Uint8Array): boolean {
  if (packet[0]! >> 4 === 6) return true;
  return naiveChecksum(packet.subarray(0, ipHeaderLengthOf(packet))) === 0;
}

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

/** Fields of a crafted TCP packet. */
export interface TcpSpec {
  v6?: boolean;
  /** 4 or 16 bytes; defaults 10.1.0.1 / fd00::1. */
  src?: number[];
  dst?: number[];
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** IPv4 options (multiple of 4 bytes). */
  ipOptions?: number[];
  /** TCP options (multiple of 4 bytes). */
  tcpOptions?: number[];
  id?: number;
  ttl?: number;
  tos?: number;
  /** IPv4 DF bit (default set). */
  df?: boolean;
  payload?: Uint8Array;
}

const V4_SRC = [10, 1, 0, 1];
const V4_DST = [10, 2, 0, 1];
const V6_SRC = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_DST = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/** A complete, valid TCP packet (all checksums correct). */
export function tcpPacket(spec: TcpSpec = {}): Uint8Array {
  const v6 = spec.v6 === true;
  const ipOptions = v6 ? [] : spec.ipOptions ?? [];
  const tcpOptions = spec.tcpOptions ?? [];
  const payload = spec.payload ?? new Uint8Array(0);
  const ihl = v6 ? 40 : 20 + ipOptions.length;
  const thl = 20 + tcpOptions.length;
  const p = new Uint8Array(ihl + thl + payload.length);
  const view = new DataView(p.buffer);
  if (v6) {
    view.setUint32(0, (6 << 28) | ((spec.tos ?? 0) << 20) | 0x12345);
    view.setUint16(4, thl + payload.length);
    p[6] = 6;
    p[7] = spec.ttl ?? 64;
    p.set(spec.src ?? V6_SRC, 8);
    p.set(spec.dst ?? V6_DST, 24);
  } else {
    p[0] = 0x40 | (ihl / 4);
    p[1] = spec.tos ?? 0;
    view.setUint16(2, p.length);
    view.setUint16(4, spec.id ?? 0x1234);
    view.setUint16(6, spec.df === false ? 0 : 0x4000);
    p[8] = spec.ttl ?? 64;
    p[9] = 6;
    p.set(spec.src ?? V4_SRC, 12);
    p.set(spec.dst ?? V4_DST, 16);
    p.set(ipOptions, 20);
    view.setUint16(10, naiveChecksum(p.subarray(0, ihl)));
  }
  view.setUint16(ihl, spec.sport ?? 40000);
  view.setUint16(ihl + 2, spec.dport ?? 5001);
  view.setUint32(ihl + 4, (spec.seq ?? 1000) >>> 0);
  view.setUint32(ihl + 8, (spec.ack ?? 7777) >>> 0);
  p[ihl + 12] = (thl / 4) << 4;
  p[ihl + 13] = spec.flags ?? ACK;
  view.setUint16(ihl + 14, spec.window ?? 502);
  p.set(tcpOptions, ihl + 20);
  p.set(payload, ihl + thl);
  const transport = p.subarray(ihl);
  view.setUint16(ihl + 16, naiveChecksum(pseudoHeader(p, 6, transport.length), transport));
  return p;
}

/** A UDP packet over IPv4 or IPv6 with a correct checksum. */
export function udpPacket(payload: Uint8Array, v6 = false): Uint8Array {
  const ihl = v6 ? 40 : 20;
  const p = new Uint8Array(ihl + 8 + payload.length);
  const view = new DataView(p.buffer);
  if (v6) {
    view.setUint32(0, 6 << 28);
    view.setUint16(4, 8 + payload.length);
    p[6] = 17;
    p[7] = 64;
    p.set(V6_SRC, 8);
    p.set(V6_DST, 24);
  } else {
    p[0] = 0x45;
    view.setUint16(2, p.length);
    p[8] = 64;
    p[9] = 17;
    p.set(V4_SRC, 12);
    p.set(V4_DST, 16);
    view.setUint16(10, naiveChecksum(p.subarray(0, 20)));
  }
  view.setUint16(ihl, 5353);
  view.setUint16(ihl + 2, 5354);
  view.setUint16(ihl + 4, 8 + payload.length);
  p.set(payload, ihl + 8);
  const transport = p.subarray(ihl);
  let sum = naiveChecksum(pseudoHeader(p, 17, transport.length), transport);
  if (sum === 0) sum = 0xffff;
  view.setUint16(ihl + 6, sum);
  return p;
}

/** An ICMP echo request over IPv4. */
export function icmpPacket(): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = 1;
  p.set(V4_SRC, 12);
  p.set(V4_DST, 16);
  new DataView(p.buffer).setUint16(10, naiveChecksum(p.subarray(0, 20)));
  p[20] = 8;
  new DataView(p.buffer).setUint16(22, naiveChecksum(p.subarray(20)));
  return p;
}

/** Deterministic payload bytes. */
export function payloadBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A vnet header (little-endian fields). */
export function vnetHeader(fields: {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}): Uint8Array {
  const h = new Uint8Array(10);
  const view = new DataView(h.buffer);
  h[0] = fields.flags ?? 0;
  h[1] = fields.gsoType ?? 0;
  view.setUint16(2, fields.hdrLen ?? 0, true);
  view.setUint16(4, fields.gsoSize ?? 0, true);
  view.setUint16(6, fields.csumStart ?? 0, true);
  view.setUint16(8, fields.csumOffset ?? 0, true);
  return h;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * What the kernel hands over for a TSO send: a vnet header (NEEDS_CSUM, GSO_TCPV4/V6 | ecn,
 * gso_size = mss) and the super packet whose TCP checksum field holds only the folded
 * pseudo-header sum (length = the whole TCP segment), like CHECKSUM_PARTIAL.
 */
export function superFrame(
  spec: TcpSpec,
  mss: number,
  options: { ecn?: boolean } = {},
): Uint8Array {
  const packet = tcpPacket(spec);
  const ihl = ipHeaderLengthOf(packet);
  const thl = (packet[ihl + 12]! >> 4) * 4;
  const tcpLength = packet.length - ihl;
  const partial = 0xffff - naiveChecksum(pseudoHeader(packet, 6, tcpLength));
  packet[ihl + 16] = partial >> 8;
  packet[ihl + 17] = partial & 0xff;
  const gsoType = (spec.v6 === true ? 4 : 1) | (options.ecn === true ? 0x80 : 0);
  return concat(
    vnetHeader({
      flags: 1,
      gsoType,
      hdrLen: ihl + thl,
      gsoSize: mss,
      csumStart: ihl,
      csumOffset: 16,
    }),
    packet,
  );
}

/**
 * The segments a correct TSO produces for `spec` at `mss`, built independently with
 * {@link tcpPacket}: payload slices, seq + i·mss, IPv4 id + i, FIN/PSH on the last only, CWR
 * on the first only.
 */
export function referenceSegments(spec: TcpSpec, mss: number): Uint8Array[] {
  const payload = spec.payload ?? new Uint8Array(0);
  const count = Math.ceil(payload.length / mss);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    let flags = spec.flags ?? ACK;
    if (i < count - 1) flags &= ~(FIN | PSH);
    if (i > 0) flags &= ~CWR;
    out.push(tcpPacket({
      ...spec,
      seq: ((spec.seq ?? 1000) + i * mss) >>> 0,
      id: ((spec.id ?? 0x1234) + i) & 0xffff,
      flags,
      payload: payload.subarray(i * mss, Math.min(payload.length, (i + 1) * mss)),
    }));
  }
  return out;
}

/** Output buffers for a split. */
export function segmentBuffers(count: number, size = 2048): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(size));
}

/** Hex of bytes, for readable assertion failures. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
