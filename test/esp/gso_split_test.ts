import { assert, assertEquals } from "../_assert.ts";
import { GsoSplitter } from "../../lib/esp/gso_split.ts";
import { VNET_HDR_LENGTH } from "../../lib/net/mod.ts";
import {
  ACK,
  concat,
  CWR,
  ECE,
  FIN,
  hex,
  ipHeaderLengthOf,
  ipv4HeaderChecksumOk,
  naiveChecksum,
  payloadBytes,
  pseudoHeader,
  PSH,
  referenceSegments,
  segmentBuffers,
  superFrame,
  tcpPacket,
  type TcpSpec,
  transportChecksumOk,
  udpPacket,
  vnetHeader,
} from "./_offload_packets.ts";

/** Splits `frame` and returns copies of the segments (asserting a positive count). */
function splitAll(splitter: GsoSplitter, frame: Uint8Array, buffers = 64): Uint8Array[] {
  const segments = segmentBuffers(buffers);
  const lengths = new Uint32Array(buffers);
  const n = splitter.split(frame, { segments, lengths });
  assert(n > 0, `split returned ${n}: ${JSON.stringify(splitter.counters.snapshot())}`);
  return segments.slice(0, n).map((s, i) => s.slice(0, lengths[i]));
}

/** Each segment equals the independent reference and verifies on its own. */
function assertMatchesReference(segments: Uint8Array[], spec: TcpSpec, mss: number): void {
  const expected = referenceSegments(spec, mss);
  assertEquals(segments.length, expected.length, "segment count");
  let seq = spec.seq ?? 1000;
  segments.forEach((segment, i) => {
    assertEquals(hex(segment), hex(expected[i]!), `segment ${i} bytes`);
    assert(transportChecksumOk(segment), `segment ${i} TCP checksum`);
    assert(ipv4HeaderChecksumOk(segment), `segment ${i} IPv4 header checksum`);
    const ihl = ipHeaderLengthOf(segment);
    const view = new DataView(segment.buffer, segment.byteOffset);
    assertEquals(view.getUint32(ihl + 4), seq >>> 0, `segment ${i} seq continues`);
    const thl = (segment[ihl + 12]! >> 4) * 4;
    seq += segment.length - ihl - thl;
    if (segment[0]! >> 4 === 4) assertEquals(view.getUint16(2), segment.length);
    else assertEquals(view.getUint16(4), segment.length - 40);
  });
}

Deno.test("splits a TCP/IPv4 super packet into MSS segments with a short last one", () => {
  const spec: TcpSpec = { payload: payloadBytes(10 * 1448 + 300), flags: ACK | PSH, id: 0xfffe };
  const splitter = new GsoSplitter();
  const segments = splitAll(splitter, superFrame(spec, 1448));
  assertEquals(segments.length, 11);
  assertEquals(segments[10]!.length, 40 + 300);
  assertMatchesReference(segments, spec, 1448);
  assertEquals(splitter.header.gsoSize, 1448);
  assertEquals(splitter.counters.get("superPackets"), 1);
  assertEquals(splitter.counters.get("segments"), 11);
});

Deno.test("splits a TCP/IPv6 super packet", () => {
  const spec: TcpSpec = { v6: true, payload: payloadBytes(5 * 1428), seq: 0xffff_f000 };
  const segments = splitAll(new GsoSplitter(), superFrame(spec, 1428));
  assertEquals(segments.length, 5);
  assertMatchesReference(segments, spec, 1428);
});

Deno.test("keeps IPv4 options and TCP options in every segment", () => {
  const spec: TcpSpec = {
    // Router Alert (4 bytes) + NOP padding to 8 bytes.
    ipOptions: [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00],
    // NOP NOP timestamps (12 bytes).
    tcpOptions: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
    payload: payloadBytes(3 * 1000 + 1, 7),
  };
  const segments = splitAll(new GsoSplitter(), superFrame(spec, 1000));
  assertEquals(segments.length, 4);
  assertEquals(segments[0]!.length, 28 + 32 + 1000);
  assertMatchesReference(segments, spec, 1000);
});

Deno.test("puts FIN and PSH only on the last segment and CWR only on the first", () => {
  const spec: TcpSpec = { payload: payloadBytes(4000), flags: ACK | PSH | FIN | CWR | ECE };
  const segments = splitAll(new GsoSplitter(), superFrame(spec, 1000, { ecn: true }));
  assertEquals(segments.map((s) => s[33]), [
    ACK | CWR | ECE,
    ACK | ECE,
    ACK | ECE,
    ACK | PSH | FIN | ECE,
  ]);
  assertMatchesReference(segments, spec, 1000);
});

Deno.test("splits at a tiny MSS and keeps a payload of one MSS in one segment", () => {
  const spec: TcpSpec = { payload: payloadBytes(64, 3), flags: ACK | PSH };
  const tiny = splitAll(new GsoSplitter(), superFrame(spec, 1));
  assertEquals(tiny.length, 64);
  assertMatchesReference(tiny, spec, 1);
  const one = splitAll(new GsoSplitter(), superFrame(spec, 1400));
  assertEquals(one.length, 1);
  assertMatchesReference(one, spec, 1400);
  const odd = splitAll(new GsoSplitter(), superFrame({ ...spec, v6: true }, 7));
  assertMatchesReference(odd, { ...spec, v6: true }, 7);
});

Deno.test("a 64 KiB super packet fills 45 segments of 1460", () => {
  const spec: TcpSpec = { payload: payloadBytes(65535 - 40, 9) };
  const segments = splitAll(new GsoSplitter(), superFrame(spec, 1460));
  assertEquals(segments.length, 45);
  assertMatchesReference(segments, spec, 1460);
});

Deno.test("completes a NEEDS_CSUM checksum without GSO in place (TCP and UDP)", () => {
  const splitter = new GsoSplitter();
  for (const v6 of [false, true]) {
    const tcp = tcpPacket({ v6, payload: payloadBytes(333), flags: ACK | PSH });
    const ihl = ipHeaderLengthOf(tcp);
    const partial = 0xffff - naiveChecksum(pseudoHeader(tcp, 6, tcp.length - ihl));
    const broken = tcp.slice();
    broken[ihl + 16] = partial >> 8;
    broken[ihl + 17] = partial & 0xff;
    const frame = concat(vnetHeader({ flags: 1, csumStart: ihl, csumOffset: 16 }), broken);
    assertEquals(splitter.split(frame, { segments: [], lengths: new Uint32Array(0) }), 0);
    assertEquals(hex(frame.subarray(VNET_HDR_LENGTH)), hex(tcp), "TCP completed");

    const udp = udpPacket(payloadBytes(101, 5), v6);
    const udpPartial = 0xffff - naiveChecksum(pseudoHeader(udp, 17, udp.length - ihl));
    const udpBroken = udp.slice();
    udpBroken[ihl + 6] = udpPartial >> 8;
    udpBroken[ihl + 7] = udpPartial & 0xff;
    const udpFrame = concat(vnetHeader({ flags: 1, csumStart: ihl, csumOffset: 6 }), udpBroken);
    assertEquals(splitter.split(udpFrame, { segments: [], lengths: new Uint32Array(0) }), 0);
    assertEquals(hex(udpFrame.subarray(VNET_HDR_LENGTH)), hex(udp), "UDP completed");
    assert(transportChecksumOk(udpFrame.subarray(VNET_HDR_LENGTH)));
  }
  assertEquals(splitter.counters.get("checksumsCompleted"), 4);
});

Deno.test("sends a UDP checksum that computes to zero as 0xffff", () => {
  // Choose two payload bytes so that the one's complement sum of everything is 0xffff.
  const udp = udpPacket(new Uint8Array([0, 0, 9, 9]));
  udp[28] = 0;
  udp[29] = 0;
  udp[26] = 0;
  udp[27] = 0;
  const sum = 0xffff - naiveChecksum(pseudoHeader(udp, 17, 12), udp.subarray(20));
  const fill = 0xffff - sum;
  udp[28] = fill >> 8;
  udp[29] = fill & 0xff;
  assertEquals(naiveChecksum(pseudoHeader(udp, 17, 12), udp.subarray(20)), 0);
  const partial = 0xffff - naiveChecksum(pseudoHeader(udp, 17, 12));
  udp[26] = partial >> 8;
  udp[27] = partial & 0xff;
  const frame = concat(vnetHeader({ flags: 1, csumStart: 20, csumOffset: 6 }), udp);
  assertEquals(new GsoSplitter().split(frame, { segments: [], lengths: new Uint32Array(0) }), 0);
  assertEquals([frame[36], frame[37]], [0xff, 0xff]);
});

Deno.test("passes a frame without GSO or NEEDS_CSUM through unchanged", () => {
  const frame = concat(vnetHeader({ flags: 2 }), tcpPacket({ payload: payloadBytes(100) }));
  const before = frame.slice();
  const splitter = new GsoSplitter();
  assertEquals(splitter.split(frame, { segments: [], lengths: new Uint32Array(0) }), 0);
  assertEquals(hex(frame), hex(before));
  assertEquals(splitter.counters.get("passedThrough"), 1);
});

Deno.test("counts malformed frames instead of throwing", () => {
  const spec: TcpSpec = { payload: payloadBytes(3000) };
  const good = superFrame(spec, 1000);
  const cases: [string, Uint8Array, string][] = [];
  const mutate = (name: string, reason: string, edit: (f: Uint8Array) => Uint8Array | void) => {
    const f = good.slice();
    cases.push([name, edit(f) ?? f, reason]);
  };
  mutate("shorter than a vnet header", "errorShortFrame", (f) => f.subarray(0, 9));
  mutate("vnet header only", "errorShortFrame", (f) => f.subarray(0, 10));
  mutate("USO", "errorGsoType", (f) => void (f[1] = 5));
  mutate("UFO", "errorGsoType", (f) => void (f[1] = 3));
  mutate("unknown GSO type", "errorGsoType", (f) => void (f[1] = 0x42));
  mutate("TCPV6 on an IPv4 packet", "errorGsoType", (f) => void (f[1] = 4));
  mutate("IP version 5", "errorGsoType", (f) => void (f[10] = 0x55));
  mutate("IHL below 5", "errorMalformed", (f) => void (f[10] = 0x44));
  mutate("not TCP", "errorMalformed", (f) => void (f[19] = 17));
  mutate("gso_size 0", "errorMalformed", (f) => void (f[4] = f[5] = 0));
  mutate("csum_start off", "errorMalformed", (f) => void (f[6] = 24));
  mutate("csum_offset off", "errorMalformed", (f) => void (f[8] = 6));
  mutate("truncated", "errorMalformed", (f) => f.subarray(0, f.length - 1));
  mutate("TCP data offset 4", "errorMalformed", (f) => void (f[42] = 0x40));
  mutate("no payload", "errorMalformed", (f) => {
    const packet = tcpPacket({});
    return concat(f.subarray(0, 10), packet);
  });
  const splitter = new GsoSplitter();
  for (const [name, frame, reason] of cases) {
    const before = splitter.counters.get(reason as "errorMalformed");
    const n = splitter.split(frame, { segments: segmentBuffers(8), lengths: new Uint32Array(8) });
    assertEquals(n, -1, name);
    assertEquals(
      splitter.counters.get(reason as "errorMalformed"),
      before + 1,
      `${name}: ${reason}`,
    );
  }
  assertEquals(splitter.counters.get("frames"), cases.length);
});

Deno.test("continues a split that needs more buffers than given, refuses small buffers", () => {
  const spec: TcpSpec = { payload: payloadBytes(4000), flags: ACK | PSH | FIN };
  const frame = superFrame(spec, 1000);
  const splitter = new GsoSplitter();
  const output = { segments: segmentBuffers(3), lengths: new Uint32Array(3) };
  const got: Uint8Array[] = [];
  let n = splitter.split(frame, output);
  assertEquals([n, splitter.pendingSegments], [3, 1]);
  while (n > 0) {
    for (let i = 0; i < n; i++) got.push(output.segments[i]!.slice(0, output.lengths[i]));
    n = splitter.splitMore(output);
  }
  assertEquals(n, 0);
  assertEquals(splitter.pendingSegments, 0);
  assertMatchesReference(got, spec, 1000);
  assertEquals(splitter.counters.get("segments"), 4);

  const short = { segments: segmentBuffers(4), lengths: new Uint32Array(2) };
  assertEquals(splitter.split(frame, short), 2, "lengths bound the room too");
  assertEquals(splitter.pendingSegments, 2);
  assertEquals(
    splitter.split(frame, { segments: segmentBuffers(4, 1039), lengths: new Uint32Array(4) }),
    -1,
    "a buffer one byte too small",
  );
  assertEquals(splitter.pendingSegments, 0, "a new split forgets the pending one");
  assertEquals(splitter.counters.get("errorNoRoom"), 1);
  assertEquals(splitter.split(frame, { segments: [], lengths: new Uint32Array(0) }), -1);
  assertEquals(splitter.counters.get("errorNoRoom"), 2);
  assertEquals(
    splitter.split(frame, { segments: segmentBuffers(4, 1040), lengths: new Uint32Array(4) }),
    4,
  );
  assertEquals(splitter.splitMore(output), 0);
});

Deno.test("splits a super packet at a tiny MSS through a small output in rounds", () => {
  const spec: TcpSpec = { v6: true, payload: payloadBytes(300, 5), flags: ACK | PSH };
  const splitter = new GsoSplitter();
  const output = { segments: segmentBuffers(64, 64), lengths: new Uint32Array(64) };
  const got: Uint8Array[] = [];
  let rounds = 0;
  for (let n = splitter.split(superFrame(spec, 1), output); n > 0; n = splitter.splitMore(output)) {
    rounds++;
    for (let i = 0; i < n; i++) got.push(output.segments[i]!.slice(0, output.lengths[i]));
  }
  assertEquals(rounds, 5);
  assertEquals(got.length, 300);
  assertMatchesReference(got, spec, 1);
});

Deno.test("survives random frames and random vnet headers on real packets", () => {
  const splitter = new GsoSplitter();
  const segments = segmentBuffers(64);
  const lengths = new Uint32Array(64);
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  const base = superFrame({ payload: payloadBytes(2000) }, 500);
  for (let round = 0; round < 3000; round++) {
    const frame = round % 2 === 0
      ? Uint8Array.from({ length: random() % 120 }, () => random() & 0xff)
      : base.slice();
    if (round % 2 === 1) { for (let k = 0; k < 3; k++) frame[random() % 60]! ^= random() & 0xff; }
    const n = splitter.split(frame, { segments, lengths });
    assert(n >= -1 && n <= 64);
  }
  assertEquals(splitter.counters.get("frames"), 3000);
});

Deno.test("fills one output batch from several frames through start", () => {
  const a: TcpSpec = { payload: payloadBytes(3000, 1), sport: 1 };
  const b: TcpSpec = { v6: true, payload: payloadBytes(2500, 2), sport: 2 };
  const splitter = new GsoSplitter();
  const output = { segments: segmentBuffers(6), lengths: new Uint32Array(6), start: 0 };
  output.start += splitter.split(superFrame(a, 1000), output);
  assertEquals(output.start, 3);
  output.start += splitter.split(superFrame(b, 1000), output);
  assertEquals(output.start, 6);
  const got = output.segments.map((s, i) => hex(s.subarray(0, output.lengths[i])));
  assertEquals(got, [...referenceSegments(a, 1000), ...referenceSegments(b, 1000)].map(hex));
  output.start = 4;
  assertEquals(splitter.split(superFrame(a, 1000), output), 2, "2 of 3 segments fit");
  assertEquals(splitter.pendingSegments, 1);
});

Deno.test("segmentCount tells how many segments split makes, from the headers alone", () => {
  const splitter = new GsoSplitter();
  for (const v6 of [false, true]) {
    for (const [bytes, mss] of [[46 * 1398, 1398], [46 * 1398 + 1, 1398], [5000, 1000], [1, 1]]) {
      const frame = superFrame({ v6, payload: payloadBytes(bytes!), flags: ACK }, mss!);
      const expected = Math.ceil(bytes! / mss!);
      assertEquals(splitter.segmentCount(frame), expected, `${v6 ? "v6" : "v4"} ${bytes}/${mss}`);
      assertEquals(splitAll(splitter, frame, 2000).length, expected);
    }
  }
  // Not a super packet: a plain frame, a UDP frame, a short or truncated frame.
  const tcp = tcpPacket({ payload: payloadBytes(100), flags: ACK });
  assertEquals(splitter.segmentCount(concat(vnetHeader({}), tcp)), 0);
  assertEquals(splitter.segmentCount(concat(vnetHeader({ gsoType: 1, gsoSize: 0 }), tcp)), 0);
  assertEquals(splitter.segmentCount(concat(vnetHeader({ gsoType: 5, gsoSize: 10 }), tcp)), 0);
  assertEquals(splitter.segmentCount(new Uint8Array(12)), 0);
  const whole = superFrame({ payload: payloadBytes(5000), flags: ACK }, 1000);
  assertEquals(splitter.segmentCount(whole.subarray(0, 200)), 0, "truncated");
});
