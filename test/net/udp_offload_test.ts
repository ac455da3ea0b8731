/**
 * UDP GSO send and UDP GRO receive on loopback (BatchSocket.sendSegmented, enableGro): runs of
 * equal-size datagrams leave as one message and arrive as one buffer with its segment size; a
 * receiver without UDP GRO still gets plain datagrams; a refused segmentation falls back.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  type BatchSocket,
  boundPort,
  openBatchUdpSocket,
  PacketBatch,
  PollSet,
  sockaddrOf,
} from "../../lib/net/batch_linux.ts";
import { libc, SocketOption } from "../../lib/sys/mod.ts";

const LOOPBACK = "127.0.0.1";
/** SO_NO_CHECK (asm-generic/socket.h): the kernel refuses UDP GSO on such a socket (EINVAL). */
const SO_NO_CHECK = 11;

/** A datagram of `length` bytes whose content depends on `index`. */
function datagram(index: number, length: number): Uint8Array {
  const d = new Uint8Array(length);
  for (let i = 0; i < length; i++) d[i] = (index * 7 + i) & 0xff;
  return d;
}

/** Fills `batch` with `datagrams` to `to` (to `other.to` from slot `other.from` on). */
function fill(
  batch: PacketBatch,
  datagrams: Uint8Array[],
  to: { address: string; port: number },
  other?: { to: { address: string; port: number }; from: number },
): void {
  const name = sockaddrOf(to);
  const otherName = other ? sockaddrOf(other.to) : name;
  datagrams.forEach((d, i) => {
    batch.slots[i]!.set(d);
    batch.setLength(i, d.length);
    batch.setName(i, other && i >= other.from ? otherName : name);
  });
}

/** Receives until nothing came for 100 ms; returns each datagram, split by segment size. */
function receiveSplit(
  socket: BatchSocket,
  batch: PacketBatch,
): { datagrams: Uint8Array[]; sizes: number[] } {
  const datagrams: Uint8Array[] = [];
  const sizes: number[] = [];
  const poll = new PollSet([socket.fd]);
  poll.wait(1000);
  for (;;) {
    const n = socket.receive(batch);
    for (let i = 0; i < n; i++) {
      const length = batch.lengths[i]!;
      const size = batch.segmentSizes[i]!;
      sizes.push(size);
      const step = size > 0 ? size : length;
      for (let at = 0; at < length; at += step) {
        datagrams.push(batch.slots[i]!.slice(at, Math.min(at + step, length)));
      }
    }
    if (n === 0 && poll.wait(100) === 0) return { datagrams, sizes };
  }
}

function withPair(fn: (a: BatchSocket, b: BatchSocket, portB: number) => void): void {
  const a = openBatchUdpSocket({ address: LOOPBACK, port: 0, bufferBytes: 4 << 20 });
  const b = openBatchUdpSocket({ address: LOOPBACK, port: 0, bufferBytes: 4 << 20 });
  try {
    fn(a, b, boundPort(b.fd));
  } finally {
    a.close();
    b.close();
  }
}

Deno.test("a UDP GSO run arrives as one UDP GRO buffer that splits into the datagrams", () => {
  withPair((a, b, portB) => {
    assert(b.enableGro(), "UDP_GRO is accepted");
    // A split super packet: 44 segments of 1400 bytes and a shorter last one.
    const sent = Array.from({ length: 45 }, (_, i) => datagram(i, i === 44 ? 900 : 1400));
    const batch = new PacketBatch({ count: 64, slotSize: 2048 });
    fill(batch, sent, { address: LOOPBACK, port: portB });
    assertEquals(a.sendSegmented(batch, sent.length), 45);
    assertEquals(a.stats.txSegmentedMessages, 1);
    assertEquals(a.stats.txSegmentedDatagrams, 45);
    assertEquals(a.stats.txPackets, 45);
    const receive = new PacketBatch({ count: 8, slotSize: 65536 });
    const { datagrams, sizes } = receiveSplit(b, receive);
    assertEquals(sizes, [1400], "one buffer with the segment size");
    assertEquals(datagrams.length, 45);
    datagrams.forEach((d, i) => assertEquals(d, sent[i]!, `datagram ${i}`));
    assertEquals(b.stats.rxCoalescedBuffers, 1);
    assertEquals(b.stats.rxCoalescedDatagrams, 45);
    assertEquals(b.stats.rxPackets, 45);
  });
});

Deno.test("a receiver without UDP GRO gets a UDP GSO run as plain datagrams", () => {
  withPair((a, b, portB) => {
    const sent = Array.from({ length: 10 }, (_, i) => datagram(i, i === 9 ? 17 : 1200));
    const batch = new PacketBatch({ count: 16, slotSize: 2048 });
    fill(batch, sent, { address: LOOPBACK, port: portB });
    assertEquals(a.sendSegmented(batch, sent.length), 10);
    assertEquals(a.stats.txSegmentedMessages, 1);
    const { datagrams, sizes } = receiveSplit(b, new PacketBatch({ count: 16, slotSize: 2048 }));
    assertEquals(sizes, Array(10).fill(0), "no segment sizes without UDP_GRO");
    assertEquals(datagrams, sent);
  });
});

Deno.test("segment runs break at another destination, a longer datagram and after a shorter one", () => {
  const batch = new PacketBatch({ count: 256, slotSize: 2048 });
  const lengths = [
    ...Array(3).fill(1000), // 0..2: a run of 3, ended by a longer datagram
    ...[1200, 1200, 800], // 3..5: a run ended by (and with) a shorter datagram
    ...[800, 800], // 6..7: a run ended by another destination (port 4501 from slot 8 on)
    ...[800, 800, 100], // 8..10: the shorter one ends this run too
    ...Array(69).fill(100), // 11..79: at most 64 segments per run
    ...Array(50).fill(1400), // 80..129: at most 65507 bytes per run (46 × 1400 = 64400)
  ];
  fill(
    batch,
    lengths.map((l, i) => datagram(i, l)),
    { address: LOOPBACK, port: 4500 },
    { to: { address: LOOPBACK, port: 4501 }, from: 8 },
  );
  const runs = batch.buildSegmentRuns(lengths.length);
  const got = Array.from({ length: runs }, (_, j) => [batch.runFirst[j], batch.runSlots[j]]);
  assertEquals(got, [[0, 3], [3, 3], [6, 2], [8, 3], [11, 64], [75, 5], [80, 46], [126, 4]]);
});

Deno.test("a refused UDP GSO send falls back to plain datagrams and turns segmentation off", () => {
  withPair((a, b, portB) => {
    const on = new Uint8Array([1, 0, 0, 0]);
    assertEquals(libc().setsockopt(a.fd, SocketOption.SOL_SOCKET, SO_NO_CHECK, on, 4), 0);
    const sent = Array.from({ length: 12 }, (_, i) => datagram(i, i < 2 ? 500 : 1000));
    const batch = new PacketBatch({ count: 16, slotSize: 2048 });
    fill(batch, sent, { address: LOOPBACK, port: portB });
    assertEquals(a.sendSegmented(batch, sent.length), 12);
    assertEquals(a.stats.txSegmentationFailures, 1);
    assertEquals(a.segmentation, false);
    assertEquals(a.stats.txSegmentedMessages, 0);
    assertEquals(a.stats.txPackets, 12);
    const { datagrams } = receiveSplit(b, new PacketBatch({ count: 16, slotSize: 2048 }));
    assertEquals(datagrams, sent);
    // Later sends go out plain straight away.
    assertEquals(a.sendSegmented(batch, sent.length), 12);
    assertEquals(a.stats.txSegmentationFailures, 1);
    assertEquals(receiveSplit(b, new PacketBatch({ count: 16, slotSize: 2048 })).datagrams, sent);
  });
});
