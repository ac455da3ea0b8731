import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { MemoryDevice, MemoryNetwork } from "../../lib/net/memory.ts";
import { toHex } from "../../lib/wire/mod.ts";

Deno.test("memory device returns injected packets in order, then -1", () => {
  const dev = new MemoryDevice({ name: "t0", mtu: 1400 });
  assertEquals(dev.mtu, 1400);
  const p1 = new Uint8Array([0x45, 1, 2]);
  dev.inject(p1);
  p1[1] = 99; // the device keeps a copy
  dev.inject(new Uint8Array([0x60, 3]));
  const buf = new Uint8Array(16);
  assertEquals(dev.tryRead(buf), 3);
  assertEquals(toHex(buf.subarray(0, 3)), "450102");
  assertEquals(dev.tryRead(buf), 2);
  assertEquals(dev.tryRead(buf), -1);
  assertEquals(dev.queued, 0);
});

Deno.test("memory device wakes a reader on inject and on close, and throws after close", async () => {
  const dev = new MemoryDevice();
  const waiting = dev.waitReadable();
  setTimeout(() => dev.inject(new Uint8Array([1])), 1);
  await waiting;
  assertEquals(dev.queued, 1);
  dev.tryRead(new Uint8Array(4));
  const waitingAgain = dev.waitReadable();
  dev.close();
  await waitingAgain;
  assert(dev.closed);
  assertThrows(() => dev.tryRead(new Uint8Array(4)), Deno.errors.BadResource);
  assert(!dev.write(new Uint8Array([1])));
  assert(!dev.inject(new Uint8Array([1])));
});

Deno.test("memory device records writes and waits for a count", async () => {
  const dev = new MemoryDevice();
  const seen: number[] = [];
  dev.onWrite = (p) => seen.push(p[0]!);
  setTimeout(() => {
    dev.write(new Uint8Array([7]));
    dev.write(new Uint8Array([8]));
  }, 1);
  await dev.waitForWritten(2);
  assertEquals(seen, [7, 8]);
  assertEquals(dev.takeWritten().map(toHex), ["07", "08"]);
  assertEquals(dev.written.length, 0);
  await assertRejects(() => dev.waitForWritten(1, 10), Deno.errors.TimedOut, "0 written");
});

Deno.test("memory device refuses injects beyond its queue limit", () => {
  const dev = new MemoryDevice({ queueLimit: 2 });
  assert(dev.inject(new Uint8Array([1])));
  assert(dev.inject(new Uint8Array([2])));
  assert(!dev.inject(new Uint8Array([3])));
});

Deno.test("paired memory devices carry writes to each other", () => {
  const [left, right] = MemoryDevice.pair();
  assert(left.write(new Uint8Array([1, 2])));
  const buf = new Uint8Array(8);
  assertEquals(right.tryRead(buf), 2);
  assert(right.write(new Uint8Array([3])));
  assertEquals(left.tryRead(buf), 1);
  assertEquals(buf[0], 3);
});

Deno.test("memory network delivers datagrams in order between bound sockets", async () => {
  const net = new MemoryNetwork();
  const a = net.open({ address: "198.51.100.1", port: 500 });
  const b = net.open({ address: "198.51.100.2", port: 0 });
  assert(b.local.port >= 49152);
  const pending = b.receive(new Uint8Array(64));
  for (let i = 0; i < 5; i++) await a.send(new Uint8Array([i]), b.local);
  const buf = new Uint8Array(64);
  const first = await pending;
  assertEquals(first.data[0], 0);
  assertEquals(first.from, a.local);
  for (let i = 1; i < 5; i++) assertEquals((await b.receive(buf)).data[0], i);
  await a.send(new Uint8Array([1, 2, 3, 4]), { address: "198.51.100.3", port: 1 });
  assertEquals(net.counters.get("dropUnreachable"), 1);
  assertEquals(net.counters.get("delivered"), 5);
  // A short receive buffer truncates like recvfrom(2).
  await a.send(new Uint8Array([9, 9, 9, 9]), b.local);
  assertEquals((await b.receive(new Uint8Array(2))).data.length, 2);
  a.close();
  b.close();
});

Deno.test("memory network refuses a taken endpoint, applies the filter and queue limit", async () => {
  const net = new MemoryNetwork({ queueLimit: 1 });
  const a = net.open({ address: "198.51.100.1", port: 4500 });
  assertThrows(() => net.open({ address: "198.51.100.1", port: 4500 }), Deno.errors.AddrInUse);
  const b = net.open({ address: "198.51.100.2", port: 4500 });
  net.filter = (data) => data[0] !== 0xde;
  await a.send(new Uint8Array([0xde]), b.local);
  await a.send(new Uint8Array([1]), b.local);
  await a.send(new Uint8Array([2]), b.local);
  assertEquals(net.counters.get("dropFiltered"), 1);
  assertEquals(net.counters.get("dropQueueFull"), 1);
  assertEquals((await b.receive(new Uint8Array(4))).data[0], 1);
  a.close();
  b.close();
  // A closed endpoint can be bound again.
  net.open({ address: "198.51.100.1", port: 4500 }).close();
});

Deno.test("a closed memory socket rejects pending and new operations", async () => {
  const net = new MemoryNetwork();
  const a = net.open({ address: "198.51.100.1", port: 4500 });
  const pending = a.receive(new Uint8Array(4));
  a.close();
  await assertRejects(() => pending, Deno.errors.BadResource);
  await assertRejects(() => a.receive(new Uint8Array(4)), Deno.errors.BadResource);
  await assertRejects(() => a.send(new Uint8Array(1), a.local), Deno.errors.BadResource);
  assert(a.closed);
});
