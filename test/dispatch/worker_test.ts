/**
 * One data-plane worker driven in-process (DataPlaneWorker.pump) on loopback: its "TUN queue"
 * is a Unix datagram socket pair (read/write keep packet boundaries like a TUN queue), its
 * NAT-T socket a UDP socket on 127.0.0.1. Covers outbound batches (sequence numbers from the
 * shared slot, counters in shared memory), inbound ESP with out-of-order and duplicated
 * packets (accepted or dropped exactly as the replay window says), the RFC 3948 demux (IKE and
 * keepalives to the main thread) and the report of a new NAT mapping.
 */
import { assert, assertEquals } from "../_assert.ts";
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import { decapsulate, encapsulate, EspSa, ReplayWindow } from "../../lib/esp/mod.ts";
import {
  type BatchSocket,
  boundPort,
  openBatchUdpSocket,
  PacketBatch,
  PollSet,
  sockaddrOf,
} from "../../lib/net/batch_linux.ts";
import { libc } from "../../lib/sys/mod.ts";
import type { WorkerMessage, WorkerSaParams } from "../../lib/dispatch/messages.ts";
import {
  createRealmShared,
  createSaShared,
  createWorkerShared,
  summedRealmCounters,
  summedSaCounters,
} from "../../lib/dispatch/shared_state.ts";
import { DataPlaneWorker } from "../../lib/dispatch/worker.ts";
import { ipv4Packet, randomBytes } from "../esp/_helpers.ts";
import {
  payloadBytes,
  referenceSegments,
  superFrame,
  type TcpSpec,
  vnetHeader,
} from "../esp/_offload_packets.ts";
import { LOOPBACK, packetPipe } from "./_pool_fixture.ts";

/** Everything the test end of a packet pipe holds now. */
function drainPipe(fd: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = libc().read(fd, buf, 65536n);
    if (n < 0) return out;
    out.push(buf.slice(0, n));
  }
}

/** The TCP payload bytes of IPv4 TUN frames (10-byte vnet header first), concatenated. */
function tcpStreamOf(frames: readonly Uint8Array[]): Uint8Array {
  const bytes: number[] = [];
  for (const frame of frames) {
    const packet = frame.subarray(10);
    const ihl = (packet[0]! & 0xf) * 4;
    const thl = (packet[ihl + 12]! >> 4) * 4;
    bytes.push(...packet.subarray(ihl + thl, (packet[2]! << 8) | packet[3]!));
  }
  return new Uint8Array(bytes);
}

interface Fixture {
  worker: DataPlaneWorker;
  messages: WorkerMessage[];
  tunTest: number;
  workerUdp: BatchSocket;
  workerPort: number;
  peer: BatchSocket;
  peerPort: number;
  realmCounters: ReturnType<typeof summedRealmCounters>;
  close(): void;
}

function fixture(offload = false): Fixture {
  const [tunWorker, tunTest] = packetPipe();
  const workerUdp = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const peer = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const wakeFd = libc().eventfd(0, 0x800);
  const realmShared = createRealmShared(1);
  const messages: WorkerMessage[] = [];
  const worker = new DataPlaneWorker({
    type: "init",
    index: 0,
    workers: 1,
    udpFd: workerUdp.fd,
    rawFd: -1,
    wakeFd,
    control: new SharedArrayBuffer(8),
    realms: [{
      id: 1,
      name: "rhp-test",
      tunFd: tunWorker,
      mtu: 1400,
      counters: realmShared,
      offload,
    }],
    logLevel: "warn",
    counters: createWorkerShared(1),
    progress: new SharedArrayBuffer(12),
  }, (m) => messages.push(m));
  return {
    worker,
    messages,
    tunTest,
    workerUdp,
    workerPort: boundPort(workerUdp.fd),
    peer,
    peerPort: boundPort(peer.fd),
    realmCounters: summedRealmCounters(realmShared, 1),
    close() {
      for (const fd of [tunWorker, tunTest, wakeFd]) libc().close(fd);
      workerUdp.close();
      peer.close();
    },
  };
}

/** Worker-side params of an SA and the test's matching SA (same SPI and keys). */
function saPairFor(
  f: Fixture,
  spi: number,
  direction: "in" | "out",
  replayWindow?: number,
): { params: WorkerSaParams; peerSa: EspSa; shared: SharedArrayBuffer } {
  const key = randomBytes(36);
  const shared = createSaShared(1);
  const encapsulation = {
    local: { address: LOOPBACK, port: f.workerPort },
    remote: { address: LOOPBACK, port: f.peerPort },
  };
  const params: WorkerSaParams = {
    spi,
    direction,
    encryption: "aes-gcm-16",
    integrity: "none",
    encryptionKey: key,
    integrityKey: new Uint8Array(0),
    ...(replayWindow === undefined ? {} : { replayWindow }),
    encapsulation,
    peerAddress: LOOPBACK,
    shared,
  };
  const peerSa = new EspSa({
    spi,
    direction: direction === "in" ? "out" : "in",
    encryption: "aes-gcm-16",
    integrity: "none",
    encryptionKey: key,
    // The test checks the worker's window, not its own: none on the test side.
    replayWindow: 0,
    encapsulation: null,
    peerAddress: LOOPBACK,
    crypto: new LibcryptoProvider(),
  });
  return { params, peerSa, shared };
}

let seq = 0;
function apply(f: Fixture, message: Parameters<DataPlaneWorker["handle"]>[0]): void {
  f.worker.handle({ ...message, seq: ++seq } as Parameters<DataPlaneWorker["handle"]>[0]);
  const ack = f.messages.pop();
  assertEquals(ack, { type: "ack", seq }, `${message.type} acknowledged without error`);
}

/** Pumps the worker until `done()` or 2 s pass. */
function pumpUntil(f: Fixture, done: () => boolean): void {
  const deadline = Date.now() + 2000;
  while (!done() && Date.now() < deadline) f.worker.pump(20);
}

Deno.test("a worker encrypts a TUN batch with sequence numbers from the shared slot", () => {
  const f = fixture();
  try {
    const { params, peerSa, shared } = saPairFor(f, 0xc0de0001, "out");
    apply(f, {
      type: "addOutbound",
      seq: 0,
      realm: 1,
      sa: params,
      prefixes: ["10.2.0.0/24"],
      active: true,
    });
    const packets = Array.from({ length: 100 }, (_, i) => ipv4Packet(200 + i, { id: i + 1 }));
    for (const p of packets) libc().write(f.tunTest, p, BigInt(p.length));
    const batch = new PacketBatch({ count: 64, slotSize: 2048 });
    const received: Uint8Array[] = [];
    const poll = new PollSet([f.peer.fd]);
    pumpUntil(f, () => {
      if (poll.wait(0) > 0) {
        const n = f.peer.receive(batch);
        for (let i = 0; i < n; i++) received.push(batch.slots[i]!.slice(0, batch.lengths[i]!));
      }
      return received.length >= 100;
    });
    assertEquals(received.length, 100);
    received.forEach((esp, i) => {
      assertEquals(new DataView(esp.buffer).getUint32(4), i + 1, "sequence numbers in order");
      const r = decapsulate(peerSa, esp);
      assert(typeof r !== "number", `packet ${i} decrypts`);
      assertEquals(r.packet, packets[i]);
    });
    assertEquals(new Uint32Array(shared, 0, 1)[0], 100, "the shared slot holds the last number");
    assertEquals(summedSaCounters(shared, 1).get("packets"), 100, "SA counters in shared memory");
    assertEquals(f.realmCounters.outbound.get("txPackets"), 100);
    // A packet without an SA: counted, and the main thread hears of it once.
    const stray = ipv4Packet(60, { dst: "10.9.0.1" });
    libc().write(f.tunTest, stray, BigInt(stray.length));
    pumpUntil(f, () => f.realmCounters.outbound.get("dropNoRoute") === 1);
    assertEquals(f.messages.filter((m) => m.type === "noRoute"), [{ type: "noRoute", realm: 1 }]);
    apply(f, { type: "removeOutbound", seq: 0, spi: params.spi });
    peerSa.dispose();
  } finally {
    f.close();
  }
});

Deno.test("a worker accepts or drops reordered and duplicated ESP exactly as the replay window says", () => {
  const f = fixture();
  try {
    const window = 64;
    const { params, peerSa, shared } = saPairFor(f, 0xc0de0002, "in", window);
    apply(f, { type: "addInbound", seq: 0, realm: 1, sa: params, prefixes: ["10.1.0.0/24"] });
    // Encrypt 1..1200 in order on the peer's side; send a reordered, duplicated selection.
    const esp: Uint8Array[] = [new Uint8Array(0)];
    for (let n = 1; n <= 1200; n++) {
      const out = new Uint8Array(2048);
      const length = encapsulate(peerSa, ipv4Packet(64, { src: "10.1.0.7", id: n }), out);
      esp.push(out.slice(0, length));
    }
    const order = [1, 2, 3, 5, 4, 4, 3, 70, 6, 7, 1100, 50, 1099, 1100, 1037, 1036, 1200, 1150];
    const name = sockaddrOf({ address: LOOPBACK, port: f.workerPort });
    for (const n of order) assert(f.peer.sendTo(esp[n]!, name), `sent ${n}`);
    // What the RFC 4303 window of the same size accepts, in arrival order.
    const reference = new ReplayWindow(window);
    const expected = order.filter((n) => reference.check(n) && reference.update(n));
    assert(expected.length > 5 && expected.length < order.length - 5, "both outcomes occur");
    const delivered: number[] = [];
    pumpUntil(f, () => {
      for (const p of drainPipe(f.tunTest)) delivered.push(new DataView(p.buffer).getUint32(20));
      return f.realmCounters.inbound.get("rxPackets") >= order.length;
    });
    for (const p of drainPipe(f.tunTest)) delivered.push(new DataView(p.buffer).getUint32(20));
    assertEquals(delivered, expected);
    assertEquals(
      summedSaCounters(shared, 1).get("dropReplay"),
      order.length - expected.length,
      "every other packet counted as a replay",
    );
    assertEquals(f.realmCounters.inbound.get("dropReplay"), order.length - expected.length);
    apply(f, { type: "removeInbound", seq: 0, spi: params.spi });
    peerSa.dispose();
  } finally {
    f.close();
  }
});

Deno.test("a worker hands IKE and keepalives to the main thread and reports a new NAT mapping once", () => {
  const f = fixture();
  const moved = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  try {
    const { params, peerSa } = saPairFor(f, 0xc0de0003, "in");
    apply(f, { type: "addInbound", seq: 0, realm: 1, sa: params, prefixes: ["10.1.0.0/24"] });
    const name = sockaddrOf({ address: LOOPBACK, port: f.workerPort });
    const ike = new Uint8Array(40);
    ike.set([1, 2, 3], 4); // non-ESP marker, then the IKE message
    assert(f.peer.sendTo(ike, name));
    assert(f.peer.sendTo(Uint8Array.of(0xff), name));
    // Authenticated ESP from a new source port, twice: reported once.
    for (let n = 0; n < 2; n++) {
      const out = new Uint8Array(2048);
      const length = encapsulate(peerSa, ipv4Packet(64, { src: "10.1.0.7", id: n }), out);
      assert(moved.sendTo(out.subarray(0, length), name));
    }
    // A forged packet from yet another port must not be reported.
    const forged = new Uint8Array(100);
    new DataView(forged.buffer).setUint32(0, params.spi);
    new DataView(forged.buffer).setUint32(4, 5);
    assert(f.peer.sendTo(forged, name));
    pumpUntil(f, () => f.realmCounters.inbound.get("rxPackets") >= 3);
    f.worker.pump(50);
    const ikeMessages = f.messages.filter((m) => m.type === "ike");
    assertEquals(ikeMessages.length, 1);
    const first = ikeMessages[0]!;
    assert(first.type === "ike");
    assertEquals(first.data, ike.slice(4), "the message without its marker");
    assertEquals(first.from, { address: LOOPBACK, port: f.peerPort });
    assertEquals(f.messages.filter((m) => m.type === "keepalive").length, 1);
    assertEquals(f.messages.filter((m) => m.type === "remote"), [{
      type: "remote",
      spi: params.spi,
      from: { address: LOOPBACK, port: boundPort(moved.fd) },
    }]);
    // The main thread moves the SA: the worker then expects the new source.
    apply(f, {
      type: "setPath",
      seq: 0,
      spi: params.spi,
      direction: "in",
      encapsulation: {
        local: params.encapsulation!.local,
        remote: { address: LOOPBACK, port: boundPort(moved.fd) },
      },
      peerAddress: LOOPBACK,
    });
    peerSa.dispose();
  } finally {
    moved.close();
    f.close();
  }
});

/** Receives ESP datagrams on the peer socket until `count` arrived or 2 s passed. */
function receiveEsp(f: Fixture, count: number): Uint8Array[] {
  const batch = new PacketBatch({ count: 64, slotSize: 4096 });
  const received: Uint8Array[] = [];
  const poll = new PollSet([f.peer.fd]);
  pumpUntil(f, () => {
    if (poll.wait(0) > 0) {
      const n = f.peer.receive(batch);
      for (let i = 0; i < n; i++) received.push(batch.slots[i]!.slice(0, batch.lengths[i]!));
    }
    return received.length >= count;
  });
  return received;
}

Deno.test("an offload queue's TCP super packet leaves as encrypted MSS segments, in order", () => {
  const f = fixture(true);
  try {
    const { params, peerSa } = saPairFor(f, 0xc0de0004, "out");
    apply(f, {
      type: "addOutbound",
      seq: 0,
      realm: 1,
      sa: params,
      prefixes: ["10.2.0.0/24"],
      active: true,
    });
    // 66 segments: more than one send batch (64), so the split continues after a flush.
    const spec: TcpSpec = { seq: 5000, payload: payloadBytes(66 * 900, 3) };
    const frame = superFrame(spec, 900);
    libc().write(f.tunTest, frame, BigInt(frame.length));
    // And a plain packet behind an all-zero header.
    const plain = ipv4Packet(300, { id: 99 });
    const plainFrame = new Uint8Array(10 + plain.length);
    plainFrame.set(vnetHeader({}));
    plainFrame.set(plain, 10);
    libc().write(f.tunTest, plainFrame, BigInt(plainFrame.length));
    const received = receiveEsp(f, 67);
    assertEquals(received.length, 67);
    const expected = [...referenceSegments(spec, 900), plain];
    received.forEach((esp, i) => {
      const r = decapsulate(peerSa, esp);
      assert(typeof r !== "number", `segment ${i} decrypts`);
      assertEquals(r.packet, expected[i], `segment ${i} as a correct TSO would cut it`);
    });
    peerSa.dispose();
  } finally {
    f.close();
  }
});

Deno.test("an offload queue gets consecutive decrypted TCP segments as one coalesced frame", () => {
  const f = fixture(true);
  try {
    const { params, peerSa } = saPairFor(f, 0xc0de0005, "in");
    apply(f, { type: "addInbound", seq: 0, realm: 1, sa: params, prefixes: ["10.0.0.0/8"] });
    const spec: TcpSpec = { seq: 9000, payload: payloadBytes(20 * 1000, 5) };
    const segments = referenceSegments(spec, 1000);
    const name = sockaddrOf({ address: LOOPBACK, port: f.workerPort });
    const batch = new PacketBatch({ count: segments.length, slotSize: 2048 });
    segments.forEach((segment, i) => {
      batch.setLength(i, encapsulate(peerSa, segment, batch.slots[i]!));
      batch.setName(i, name);
    });
    assertEquals(f.peer.send(batch, segments.length), segments.length);
    const frames: Uint8Array[] = [];
    pumpUntil(f, () => {
      frames.push(...drainPipe(f.tunTest));
      return f.realmCounters.inbound.get("txPackets") >= segments.length && frames.length > 0;
    });
    frames.push(...drainPipe(f.tunTest));
    assert(frames.length < segments.length, `${frames.length} frames for 20 segments`);
    // The payloads, in order, are the stream that was sent.
    assertEquals(tcpStreamOf(frames), spec.payload);
    assertEquals(frames[0]![1], 1, "the first frame is a GSO_TCPV4 super packet");
    peerSa.dispose();
  } finally {
    f.close();
  }
});

Deno.test("two offload realms whose segments arrive in one batch each get their own coalesced stream", () => {
  const f = fixture(true);
  const [tunWorker, tunTest] = packetPipe();
  try {
    // Realm 2, added at run time, shares the worker's one coalescing arena with realm 1.
    apply(f, {
      type: "addRealm",
      seq: 0,
      realm: {
        id: 2,
        name: "rhp-two",
        tunFd: tunWorker,
        mtu: 1400,
        counters: createRealmShared(1),
        offload: true,
      },
    });
    const one = saPairFor(f, 0xc0de0011, "in");
    const two = saPairFor(f, 0xc0de0012, "in");
    apply(f, { type: "addInbound", seq: 0, realm: 1, sa: one.params, prefixes: ["10.0.0.0/8"] });
    apply(f, { type: "addInbound", seq: 0, realm: 2, sa: two.params, prefixes: ["10.0.0.0/8"] });
    const specs: TcpSpec[] = [
      { seq: 1000, sport: 1111, payload: payloadBytes(24 * 1000, 1) },
      { seq: 5000, sport: 2222, payload: payloadBytes(24 * 1000, 2) },
    ];
    const [segmentsOne, segmentsTwo] = specs.map((spec) => referenceSegments(spec, 1000));
    // Interleaved: each realm's queue fills while the other's does.
    const name = sockaddrOf({ address: LOOPBACK, port: f.workerPort });
    const batch = new PacketBatch({ count: 48, slotSize: 2048 });
    for (let i = 0; i < 24; i++) {
      batch.setLength(2 * i, encapsulate(one.peerSa, segmentsOne![i]!, batch.slots[2 * i]!));
      batch.setLength(
        2 * i + 1,
        encapsulate(two.peerSa, segmentsTwo![i]!, batch.slots[2 * i + 1]!),
      );
      batch.setName(2 * i, name);
      batch.setName(2 * i + 1, name);
    }
    assertEquals(f.peer.send(batch, 48), 48);
    const frames: [Uint8Array[], Uint8Array[]] = [[], []];
    pumpUntil(f, () => {
      frames[0].push(...drainPipe(f.tunTest));
      frames[1].push(...drainPipe(tunTest));
      return tcpStreamOf(frames[0]).length >= 24_000 && tcpStreamOf(frames[1]).length >= 24_000;
    });
    for (const [i, list] of frames.entries()) {
      assert(list.length < 24, `realm ${i + 1}: ${list.length} frames for 24 segments`);
      assertEquals(
        tcpStreamOf(list),
        specs[i]!.payload,
        `realm ${i + 1}: its own stream, in order`,
      );
    }
    one.peerSa.dispose();
    two.peerSa.dispose();
  } finally {
    libc().close(tunWorker);
    libc().close(tunTest);
    f.close();
  }
});

Deno.test("a realm added at run time carries traffic; removing it takes its SAs and queue away", () => {
  const f = fixture();
  const [tunWorker, tunTest] = packetPipe();
  try {
    const shared = createRealmShared(1);
    apply(f, {
      type: "addRealm",
      seq: 0,
      realm: {
        id: 2,
        name: "rhp-two",
        tunFd: tunWorker,
        mtu: 1400,
        counters: shared,
        offload: false,
      },
    });
    const { params, peerSa, shared: saShared } = saPairFor(f, 0xc0de0006, "out");
    apply(f, {
      type: "addOutbound",
      seq: 0,
      realm: 2,
      sa: params,
      prefixes: ["10.7.0.0/24"],
      active: true,
    });
    const packet = ipv4Packet(100, { dst: "10.7.0.9", id: 1 });
    libc().write(tunTest, packet, BigInt(packet.length));
    const [esp] = receiveEsp(f, 1);
    const r = decapsulate(peerSa, esp!);
    assert(typeof r !== "number");
    assertEquals(r.packet, packet);
    assertEquals(summedRealmCounters(shared, 1).outbound.get("txPackets"), 1);

    apply(f, { type: "removeRealm", seq: 0, id: 2 });
    libc().write(tunTest, packet, BigInt(packet.length));
    f.worker.pump(50);
    assertEquals(receiveEsp(f, 1).length, 0, "the removed realm's queue is no longer read");
    assertEquals(summedSaCounters(saShared, 1).get("packets"), 1);
    // Its SAs went with it: installing the SPI again is accepted.
    apply(f, {
      type: "addOutbound",
      seq: 0,
      realm: 1,
      sa: { ...params, shared: createSaShared(1) },
      prefixes: ["10.7.0.0/24"],
      active: true,
    });
    peerSa.dispose();
  } finally {
    libc().close(tunWorker);
    libc().close(tunTest);
    f.close();
  }
});
