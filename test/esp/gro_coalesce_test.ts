import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { GroCoalescer } from "../../lib/esp/gro_coalesce.ts";
import { GsoSplitter } from "../../lib/esp/gso_split.ts";
import { createVnetHdr, decodeVnetHdr, VNET_HDR_LENGTH } from "../../lib/net/mod.ts";
import {
  ACK,
  FIN,
  hex,
  icmpPacket,
  ipHeaderLengthOf,
  naiveChecksum,
  payloadBytes,
  pseudoHeader,
  PSH,
  referenceSegments,
  RST,
  segmentBuffers,
  SYN,
  tcpPacket,
  type TcpSpec,
  udpPacket,
  URG,
} from "./_offload_packets.ts";

/** Splits frame `frame` back into packets (a zero header yields the packet itself). */
function unsplit(frame: Uint8Array): Uint8Array[] {
  const splitter = new GsoSplitter();
  const segments = segmentBuffers(128);
  const lengths = new Uint32Array(128);
  const copy = frame.slice();
  const n = splitter.split(copy, { segments, lengths });
  assert(n >= 0, `split failed: ${JSON.stringify(splitter.counters.snapshot())}`);
  if (n === 0) return [copy.slice(VNET_HDR_LENGTH)];
  return segments.slice(0, n).map((s, i) => s.slice(0, lengths[i]));
}

function frames(coalescer: GroCoalescer, packets: Uint8Array[]): Uint8Array[] {
  const n = coalescer.coalesce(packets);
  return Array.from({ length: n }, (_, i) => coalescer.frame(i).slice());
}

function headerOf(frame: Uint8Array) {
  return decodeVnetHdr(frame, createVnetHdr());
}

/** Segments of one flow: `count` segments of `mss` bytes starting at `seq`. */
function flow(count: number, mss: number, spec: TcpSpec = {}): Uint8Array[] {
  return referenceSegments({ ...spec, payload: payloadBytes(count * mss, spec.sport ?? 1) }, mss);
}

Deno.test("coalesces in-order segments into one super frame that splits back to them", () => {
  for (const v6 of [false, true]) {
    const spec: TcpSpec = { v6, payload: payloadBytes(20 * 1400 + 123), flags: ACK | PSH };
    const segments = referenceSegments(spec, 1400);
    const coalescer = new GroCoalescer();
    const out = frames(coalescer, segments);
    assertEquals(out.length, 1);
    const hdr = headerOf(out[0]!);
    const ihl = v6 ? 40 : 20;
    assertEquals(hdr, {
      flags: 1,
      gsoType: v6 ? 4 : 1,
      hdrLen: ihl + 20,
      gsoSize: 1400,
      csumStart: ihl,
      csumOffset: 16,
    });
    const packet = out[0]!.subarray(VNET_HDR_LENGTH);
    assertEquals(packet.length, ihl + 20 + 20 * 1400 + 123);
    // The checksum field holds the folded pseudo-header sum (CHECKSUM_PARTIAL).
    const partial = 0xffff - naiveChecksum(pseudoHeader(packet, 6, packet.length - ihl));
    assertEquals((packet[ihl + 16]! << 8) | packet[ihl + 17]!, partial);
    assertEquals(packet[ihl + 13], ACK | PSH, "PSH of the last segment");
    assertEquals(unsplit(out[0]!).map(hex), segments.map(hex), "round trip");
    assertEquals(coalescer.counters.get("superFrames"), 1);
    assertEquals(coalescer.counters.get("coalescedPackets"), 21);
  }
});

Deno.test("round-trips IPv4 options, TCP options and a short last segment", () => {
  const spec: TcpSpec = {
    ipOptions: [0x94, 0x04, 0x00, 0x00],
    tcpOptions: [1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0],
    payload: payloadBytes(5 * 1000 + 17, 4),
    id: 0xfffd,
  };
  const segments = referenceSegments(spec, 1000);
  const out = frames(new GroCoalescer(), segments);
  assertEquals(out.length, 1);
  assertEquals(headerOf(out[0]!).hdrLen, 24 + 32);
  assertEquals(unsplit(out[0]!).map(hex), segments.map(hex));
});

Deno.test("keeps mixed flows apart, each in order, and writes non-TCP singly", () => {
  const a = flow(3, 1000, { sport: 1111 });
  const b = flow(3, 1000, { sport: 2222, v6: true });
  const udp = udpPacket(payloadBytes(50));
  const icmp = icmpPacket();
  const batch = [a[0]!, b[0]!, udp, a[1]!, b[1]!, icmp, a[2]!, b[2]!];
  const coalescer = new GroCoalescer();
  const out = frames(coalescer, batch);
  assertEquals(out.length, 4);
  assertEquals(unsplit(out[0]!).map(hex), a.map(hex));
  assertEquals(unsplit(out[1]!).map(hex), b.map(hex));
  assertEquals(hex(out[2]!), "00".repeat(10) + hex(udp), "UDP behind a zero header");
  assertEquals(hex(out[3]!), "00".repeat(10) + hex(icmp));
  assertEquals(coalescer.counters.snapshot(), {
    packets: 8,
    frames: 4,
    superFrames: 2,
    coalescedPackets: 6,
    singles: 2,
    checksumInvalid: 0,
    dropNoRoom: 0,
  });
});

Deno.test("writes a lone TCP segment unchanged behind a zero header", () => {
  const packet = tcpPacket({ payload: payloadBytes(500) });
  const out = frames(new GroCoalescer(), [packet]);
  assertEquals(out.map(hex), ["00".repeat(10) + hex(packet)]);
});

Deno.test("never merges SYN, FIN, RST, URG or segments without payload", () => {
  const [s0, s1, s2, s3] = flow(4, 500);
  for (const flags of [ACK | SYN, ACK | FIN, ACK | RST, ACK | URG]) {
    const odd = tcpPacket({ seq: 1000 + 500, flags, payload: s1!.subarray(40) });
    const out = frames(new GroCoalescer(), [s0!, odd, s2!, s3!]);
    assertEquals(out.length, 3, `flags ${flags}`);
    assertEquals(unsplit(out[0]!).map(hex), [hex(s0!)]);
    assertEquals(hex(out[1]!.subarray(10)), hex(odd), "the odd one singly, in order");
    assertEquals(unsplit(out[2]!).map(hex), [hex(s2!), hex(s3!)]);
  }
  const pureAck = tcpPacket({ seq: 1500 });
  const out = frames(new GroCoalescer(), [s0!, pureAck, s1!]);
  assertEquals(out.length, 3);
});

Deno.test("starts a new frame after a gap, a short segment, a PSH or a larger segment", () => {
  const [s0, s1, s2, s3] = flow(4, 1000);
  // Gap: s0 s2.
  assertEquals(frames(new GroCoalescer(), [s0!, s2!, s3!]).length, 2);
  // Short then full: nothing may follow a short segment.
  // (IPv4 ids as a split regenerates them: first id + i.)
  const short = tcpPacket({ seq: 3000, id: 0x1236, payload: payloadBytes(10) });
  const afterShort = tcpPacket({ seq: 3010, payload: payloadBytes(1000) });
  const out = frames(new GroCoalescer(), [s0!, s1!, short, afterShort]);
  assertEquals(out.length, 2);
  assertEquals(unsplit(out[0]!).map(hex), [s0!, s1!, short].map(hex));
  // PSH in the middle closes the frame and stays on its last segment.
  const pushed = tcpPacket({ seq: 3000, id: 0x1236, flags: ACK | PSH, payload: s2!.subarray(40) });
  const out2 = frames(new GroCoalescer(), [s0!, s1!, pushed, s3!]);
  assertEquals(out2.length, 2);
  assertEquals(unsplit(out2[0]!).map(hex), [s0!, s1!, pushed].map(hex));
  // A segment larger than the first one.
  const small = tcpPacket({ seq: 1000, payload: payloadBytes(500) });
  const large = tcpPacket({ seq: 1500, payload: payloadBytes(1000) });
  assertEquals(frames(new GroCoalescer(), [small, large]).length, 2);
});

Deno.test("does not merge different acks, options, TTL, TOS or a fragment", () => {
  const base = { payload: payloadBytes(1000) };
  const s0 = tcpPacket({ ...base, seq: 1000 });
  const variants: [string, Uint8Array][] = [
    ["ack", tcpPacket({ ...base, seq: 2000, ack: 8888 })],
    ["tcp options", tcpPacket({ ...base, seq: 2000, tcpOptions: [1, 1, 1, 1] })],
    ["ttl", tcpPacket({ ...base, seq: 2000, ttl: 63 })],
    ["tos", tcpPacket({ ...base, seq: 2000, tos: 4 })],
    ["DF", tcpPacket({ ...base, seq: 2000, df: false })],
  ];
  for (const [name, other] of variants) {
    assertEquals(frames(new GroCoalescer(), [s0, other]).length, 2, name);
  }
  // Same flow otherwise: merges (window may differ, as in kernel GRO).
  assertEquals(
    frames(new GroCoalescer(), [s0, tcpPacket({ ...base, seq: 2000, window: 9 })]).length,
    1,
  );
  const fragment = tcpPacket({ ...base, seq: 2000 });
  fragment[6] = 0x20; // MF
  assertEquals(frames(new GroCoalescer(), [s0, fragment]).length, 2);
});

Deno.test("caps a super frame at 64 KiB", () => {
  const segments = flow(50, 1400);
  const out = frames(new GroCoalescer(), segments);
  assertEquals(out.length, 2);
  for (const frame of out) assert(frame.length - VNET_HDR_LENGTH <= 65535);
  assertEquals(out.flatMap(unsplit).map(hex), segments.map(hex));
});

Deno.test("writes a segment with a bad checksum singly and counts it", () => {
  const [s0, s1, s2] = flow(3, 800);
  const bad = s1!.slice();
  bad[bad.length - 1]! ^= 0x55;
  const coalescer = new GroCoalescer();
  const out = frames(coalescer, [s0!, bad, s2!]);
  assertEquals(out.length, 3);
  assertEquals(hex(out[1]!.subarray(10)), hex(bad));
  assertEquals(coalescer.counters.get("checksumInvalid"), 1);
  const trusting = new GroCoalescer({ verifyChecksums: false });
  assertEquals(frames(trusting, [s0!, bad, s2!]).length, 1);
});

Deno.test("drops what does not fit the arena and refuses an oversized batch", () => {
  const coalescer = new GroCoalescer({ maxPackets: 2, maxPacketLength: 100 });
  const big = tcpPacket({ payload: payloadBytes(150) });
  const small = tcpPacket({ payload: payloadBytes(10), seq: 5000 });
  assertEquals(coalescer.coalesce([big, big]), 1);
  assertEquals(coalescer.counters.get("dropNoRoom"), 1);
  assertEquals(coalescer.coalesce([small, small]), 2);
  assertThrows(() => coalescer.coalesce([small, small, small]), RangeError, "at most 2");
  assertThrows(() => new GroCoalescer({ maxPackets: 0 }), RangeError);
  assertThrows(() => new GroCoalescer({ maxPacketLength: 70000 }), RangeError);
});

Deno.test("reuses its arena across calls without stale state", () => {
  const coalescer = new GroCoalescer({ maxPackets: 64, maxPacketLength: 1500 });
  for (let round = 0; round < 5; round++) {
    const a = flow(10 + round, 1000 + round, { sport: 3000 + round, seq: round * 1_000_000 });
    const out = frames(coalescer, [...a, udpPacket(payloadBytes(round + 1))]);
    assertEquals(out.length, 2);
    assertEquals(unsplit(out[0]!).map(hex), a.map(hex));
    assertEquals(ipHeaderLengthOf(out[1]!.subarray(10)), 20);
  }
});
