/**
 * Batched FFI I/O on loopback: recvmmsg/sendmmsg through a PacketBatch, the reuseport program
 * of the dispatch rules (which member of a SO_REUSEPORT group gets a datagram), and the raw ESP
 * socket filter (root only: raw sockets need CAP_NET_RAW).
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  attachReuseportProgram,
  attachSocketFilter,
  type BatchSocket,
  boundPort,
  encodeSockFilter,
  formatIpv4Word,
  ipv4Word,
  openBatchRawEspSocket,
  openBatchUdpSocket,
  PacketBatch,
  PollSet,
  sockaddrOf,
} from "../../lib/net/batch_linux.ts";
import { DEFAULT_RULES } from "../../lib/dispatch/rules.ts";

const LOOPBACK = "127.0.0.1";

function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/** A datagram whose first 4 bytes are `word` (an SPI, or 0 for the non-ESP marker). */
function datagram(word: number, length = 64): Uint8Array {
  const d = new Uint8Array(length);
  new DataView(d.buffer).setUint32(0, word);
  for (let i = 4; i < length; i++) d[i] = i & 0xff;
  return d;
}

/** Sends `datagrams` from `from` to `to` with one sendmmsg batch. */
function sendAll(
  from: BatchSocket,
  to: { address: string; port: number },
  datagrams: Uint8Array[],
) {
  const batch = new PacketBatch({ count: datagrams.length, slotSize: 2048 });
  const name = sockaddrOf(to);
  datagrams.forEach((d, i) => {
    batch.slots[i]!.set(d);
    batch.setLength(i, d.length);
    batch.setName(i, name);
  });
  return from.send(batch, datagrams.length);
}

/** Receives everything queued on `socket` (waits up to 1 s for the first datagram). */
function receiveAll(socket: BatchSocket, batch: PacketBatch): Uint8Array[] {
  const out: Uint8Array[] = [];
  const poll = new PollSet([socket.fd]);
  poll.wait(1000);
  for (;;) {
    const n = socket.receive(batch);
    for (let i = 0; i < n; i++) out.push(batch.slots[i]!.slice(0, batch.lengths[i]!));
    if (n === 0 && poll.wait(50) === 0) return out;
  }
}

Deno.test("sendmmsg and recvmmsg move a batch of datagrams with lengths and sources", () => {
  const a = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const b = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  try {
    const portA = boundPort(a.fd);
    const portB = boundPort(b.fd);
    const datagrams = Array.from({ length: 40 }, (_, i) => datagram(0x1000 + i, 20 + i * 30));
    assertEquals(sendAll(a, { address: LOOPBACK, port: portB }, datagrams), 40);
    const batch = new PacketBatch({ count: 16, slotSize: 4096 });
    const poll = new PollSet([b.fd]);
    assertEquals(poll.wait(1000), 1);
    assert(poll.ready(0), "the socket is readable");
    const first = b.receive(batch);
    assertEquals(first, 16, "a full batch in one recvmmsg");
    assertEquals(batch.lengths[3], 20 + 3 * 30);
    assertEquals(batch.slots[3]!.slice(0, batch.lengths[3]!), datagrams[3]);
    assertEquals(formatIpv4Word(batch.sourceWord(0)), LOOPBACK);
    assertEquals(batch.sourcePort(0), portA);
    const rest = receiveAll(b, batch);
    assertEquals(rest.length, 24);
    assertEquals(rest[23], datagrams[39]);
    assertEquals(b.receive(batch), 0, "nothing queued: 0, not an error");
    assertEquals(b.stats.rxPackets, 40);
    assertEquals(a.stats.txPackets, 40);
    // sendto for single datagrams (IKE).
    assert(a.sendTo(datagram(0, 100), sockaddrOf({ address: LOOPBACK, port: portB })));
    assertEquals(receiveAll(b, batch).map((d) => d.length), [100]);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a packet batch rejects sizes out of range and parses IPv4 words", () => {
  let threw = 0;
  for (const options of [{ count: 0, slotSize: 100 }, { count: 4, slotSize: 10 }]) {
    try {
      new PacketBatch(options);
    } catch (e) {
      assert(e instanceof RangeError);
      threw++;
    }
  }
  assertEquals(threw, 2);
  assertEquals(ipv4Word("198.51.100.2"), 0xc6336402);
  assertEquals(ipv4Word("::1"), -1);
  assertEquals(formatIpv4Word(0xc6336402), "198.51.100.2");
  assertEquals(
    encodeSockFilter([{ code: 0x06, jt: 1, jf: 2, k: 0x40000 }]),
    Uint8Array.of(6, 0, 1, 2, 0, 0, 4, 0),
  );
});

Deno.test("the reuseport program sends ESP to SPI % N and IKE and keepalives to socket 0", () => {
  const workers = 3;
  const first = openBatchUdpSocket({ address: LOOPBACK, port: 0, reusePort: true });
  const port = boundPort(first.fd);
  const group = [first];
  const sender = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  try {
    for (let i = 1; i < workers; i++) {
      group.push(openBatchUdpSocket({ address: LOOPBACK, port, reusePort: true }));
    }
    attachReuseportProgram(first.fd, DEFAULT_RULES.udpProgram(workers));
    const spis = Array.from({ length: 30 }, (_, i) => 0xc0000100 + i * 7);
    const datagrams = spis.map((spi) => datagram(spi));
    datagrams.push(datagram(0, 200)); // IKE behind the non-ESP marker
    datagrams.push(Uint8Array.of(0xff)); // NAT keepalive
    datagrams.push(Uint8Array.of(1, 2)); // too short for anything
    assertEquals(sendAll(sender, { address: LOOPBACK, port }, datagrams), datagrams.length);
    const batch = new PacketBatch({ count: 64, slotSize: 2048 });
    const got = group.map((s) => receiveAll(s, batch));
    assertEquals(got.reduce((n, g) => n + g.length, 0), datagrams.length, "nothing lost");
    for (let i = 0; i < workers; i++) {
      for (const d of got[i]!) {
        if (d.length < 4) {
          assertEquals(i, 0, "short datagrams (keepalives) go to socket 0");
          continue;
        }
        const word = new DataView(d.buffer, d.byteOffset).getUint32(0);
        if (word === 0) assertEquals(i, 0, "IKE goes to socket 0");
        else assertEquals(word % workers, i, `SPI 0x${word.toString(16)} went to socket ${i}`);
      }
    }
    for (let i = 0; i < workers; i++) {
      assert(got[i]!.length > 1, `socket ${i} got its share`);
    }
  } finally {
    for (const s of group) s.close();
    sender.close();
  }
});

Deno.test({
  name: "each raw ESP socket's filter accepts only the SPIs of its worker",
  ignore: !isRoot(),
  fn: () => {
    const workers = 2;
    const sockets = [openBatchRawEspSocket("0.0.0.0"), openBatchRawEspSocket("0.0.0.0")];
    const sender = openBatchRawEspSocket("0.0.0.0");
    try {
      sockets.forEach((s, i) => attachSocketFilter(s.fd, DEFAULT_RULES.rawEspProgram(workers, i)));
      // Give up anything queued before the filters (ESP of other tests cannot reach loopback).
      const batch = new PacketBatch({ count: 64, slotSize: 2048 });
      for (const s of sockets) while (s.receive(batch) > 0) continue;
      // A random base so that concurrent runs do not see each other's packets as theirs.
      const base = (crypto.getRandomValues(new Uint32Array(1))[0]! | 0x1000) >>> 0;
      const spis = Array.from({ length: 20 }, (_, i) => (base + i) >>> 0);
      assertEquals(
        sendAll(sender, { address: LOOPBACK, port: 0 }, spis.map((spi) => datagram(spi, 48))),
        spis.length,
      );
      const mine = new Set(spis);
      sockets.forEach((s, i) => {
        const packets = receiveAll(s, batch).filter((p) => {
          const ihl = (p[0]! & 0xf) * 4;
          return mine.has(new DataView(p.buffer, p.byteOffset).getUint32(ihl));
        });
        assertEquals(packets.length, spis.filter((spi) => spi % workers === i).length);
        for (const p of packets) {
          const ihl = (p[0]! & 0xf) * 4;
          assertEquals(new DataView(p.buffer, p.byteOffset).getUint32(ihl) % workers, i);
        }
      });
    } finally {
      for (const s of sockets) s.close();
      sender.close();
    }
  },
});
