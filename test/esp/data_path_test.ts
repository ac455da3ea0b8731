import { assert, assertEquals } from "../_assert.ts";
import {
  addNonEspMarker,
  buildNatKeepalive,
  createPeerToTunCounters,
  createTunToPeerCounters,
  encapsulate,
  handleInboundEsp,
  inboundContextOf,
  InboundResult,
  parsePrefix,
  runPeerToTun,
  runTunToPeer,
  Sadb,
} from "../../lib/esp/mod.ts";
import type { PeerToTunCounterName, TunToPeerCounterName } from "../../lib/esp/mod.ts";
import type { Counters } from "../../lib/log/mod.ts";
import { MemoryDevice, MemoryNetwork } from "../../lib/net/memory.ts";
import type { DatagramSocket, Endpoint } from "../../lib/net/datagram.ts";
import { toHex } from "../../lib/wire/mod.ts";
import { ipv4Packet, ipv6Packet, PROVIDERS, saPair, SUITE_NAMES } from "./_helpers.ts";

interface Gateway {
  device: MemoryDevice;
  socket: DatagramSocket;
  sadb: Sadb;
  tx: Counters<TunToPeerCounterName>;
  rx: Counters<PeerToTunCounterName>;
  ike: { message: Uint8Array; from: Endpoint }[];
  noRoute: string[];
}

interface Pair {
  net: MemoryNetwork;
  a: Gateway;
  b: Gateway;
  stop(): Promise<void>;
}

function gateway(net: MemoryNetwork, address: string, name: string): Gateway {
  return {
    device: new MemoryDevice({ name }),
    socket: net.open({ address, port: 4500 }),
    sadb: new Sadb(),
    tx: createTunToPeerCounters(),
    rx: createPeerToTunCounters(),
    ike: [],
    noRoute: [],
  };
}

/** Two gateways, A (10.1.0.0/16, fd00:1::/32) and B (10.2.0.0/16, fd00:2::/32), over UDP 4500. */
function gatewayPair(suite: string, options: { poolSize?: number } = {}): Pair {
  const net = new MemoryNetwork();
  const a = gateway(net, "198.51.100.1", "tun-a");
  const b = gateway(net, "198.51.100.2", "tun-b");
  const crypto = PROVIDERS[0]!;
  const aToB = saPair(suite, crypto, {
    encapsulation: { local: a.socket.local, remote: b.socket.local },
  }, 0xa000_0001);
  const bToA = saPair(suite, crypto, {
    encapsulation: { local: b.socket.local, remote: a.socket.local },
  }, 0xb000_0001);
  const netA = [parsePrefix("10.1.0.0/16"), parsePrefix("fd00:1::/32")];
  const netB = [parsePrefix("10.2.0.0/16"), parsePrefix("fd00:2::/32")];
  a.sadb.installChild({ outbound: aToB.outbound, inbound: bToA.inbound, remotePrefixes: netB });
  b.sadb.installChild({ outbound: bToA.outbound, inbound: aToB.inbound, remotePrefixes: netA });
  const abort = new AbortController();
  const signal = abort.signal;
  const loops = [a, b].flatMap((g) => [
    runTunToPeer(g.device, g.sadb, (d, to) => g.socket.send(d, to), {
      signal,
      counters: g.tx,
      onNoRoute: (dst) => g.noRoute.push(dst),
      ...(options.poolSize ? { poolSize: options.poolSize } : {}),
    }),
    runPeerToTun(g.socket, g.sadb, g.device, {
      signal,
      counters: g.rx,
      onIke: (message, from) => g.ike.push({ message: message.slice(), from }),
    }),
  ]);
  return {
    net,
    a,
    b,
    async stop() {
      abort.abort();
      for (const g of [a, b]) {
        g.socket.close();
        g.device.close();
      }
      await Promise.all(loops);
      for (const sa of [aToB, bToA]) {
        sa.inbound.dispose();
        sa.outbound.dispose();
      }
    },
  };
}

for (const suite of SUITE_NAMES) {
  Deno.test(`${suite}: packets injected on either gateway arrive intact on the other`, async () => {
    const { a, b, stop } = gatewayPair(suite);
    try {
      const toB = [20, 64, 576, 1400, 1500].map((n, i) =>
        ipv4Packet(n, { src: "10.1.0.5", dst: "10.2.0.9", id: i })
      );
      const toA = [40, 100, 1280].map((n) =>
        ipv6Packet(n, { src: [0xfd00, 2, 0, 0, 0, 0, 0, 7], dst: [0xfd00, 1, 0, 0, 0, 0, 0, 3] })
      );
      for (const p of toB) a.device.inject(p);
      for (const p of toA) b.device.inject(p);
      await b.device.waitForWritten(toB.length);
      await a.device.waitForWritten(toA.length);
      assertEquals(b.device.written.map(toHex), toB.map(toHex));
      assertEquals(a.device.written.map(toHex), toA.map(toHex));
      assertEquals(a.tx.get("txPackets"), toB.length);
      assertEquals(b.rx.get("txPackets"), toB.length);
      assertEquals(b.rx.get("txBytes"), toB.reduce((n, p) => n + p.length, 0));
    } finally {
      await stop();
    }
  });
}

Deno.test("10000 packets arrive complete and in order", async () => {
  const { a, b, stop } = gatewayPair("aes128gcm16");
  try {
    const count = 10_000;
    for (let i = 0; i < count; i++) {
      assert(
        a.device.inject(ipv4Packet(64 + (i % 1400), { src: "10.1.0.1", dst: "10.2.0.1", id: i })),
      );
    }
    await b.device.waitForWritten(count, 60_000);
    assertEquals(b.device.written.length, count);
    for (let i = 0; i < count; i++) {
      const p = b.device.written[i]!;
      assertEquals(new DataView(p.buffer).getUint32(20), i, `packet ${i} out of order`);
      assertEquals(p.length, 64 + (i % 1400));
    }
    assertEquals(b.rx.get("dropReplay") + b.rx.get("dropAuth"), 0);
  } finally {
    await stop();
  }
});

Deno.test("lost datagrams leave gaps but later packets still pass the replay window", async () => {
  const { net, a, b, stop } = gatewayPair("aes256gcm16");
  try {
    let n = 0;
    net.filter = () => ++n % 10 !== 0;
    for (let i = 0; i < 200; i++) a.device.inject(ipv4Packet(100, { id: i }));
    await b.device.waitForWritten(180);
    const ids = b.device.written.map((p) => new DataView(p.buffer).getUint32(20));
    assertEquals(ids.length, 180);
    assertEquals(ids, Array.from({ length: 200 }, (_, i) => i).filter((i) => (i + 1) % 10 !== 0));
    assertEquals(net.counters.get("dropFiltered"), 20);
  } finally {
    await stop();
  }
});

Deno.test("a packet with no outbound SA is a counted no-route drop reported to onNoRoute", async () => {
  const { a, b, stop } = gatewayPair("aes128gcm16");
  try {
    a.device.inject(ipv4Packet(60, { dst: "10.77.0.1" }));
    a.device.inject(ipv4Packet(60, { dst: "10.2.0.1", id: 1 }));
    await b.device.waitForWritten(1);
    assertEquals(a.tx.get("dropNoRoute"), 1);
    assertEquals(a.noRoute, ["10.77.0.1"]);
    assertEquals(b.device.written.length, 1);
  } finally {
    await stop();
  }
});

Deno.test("an inner source outside the remote traffic selectors is dropped (RFC 4301 §5.2)", async () => {
  const { a, b, stop } = gatewayPair("aes256-sha256");
  try {
    a.device.inject(ipv4Packet(60, { src: "10.9.0.1", dst: "10.2.0.1" }));
    a.device.inject(ipv4Packet(60, { src: "10.1.0.1", dst: "10.2.0.1", id: 5 }));
    await b.device.waitForWritten(1);
    // Delivery is in order, so the first (dropped) packet has been handled by now.
    assertEquals(b.rx.get("dropSelector"), 1);
    assertEquals(new DataView(b.device.written[0]!.buffer).getUint32(20), 5);
  } finally {
    await stop();
  }
});

Deno.test("the inbound loop hands IKE to onIke, counts keepalives and unknown SPIs", async () => {
  const { net, b, stop } = gatewayPair("aes128gcm16");
  const peer = net.open({ address: "198.51.100.9", port: 4500 });
  try {
    await peer.send(addNonEspMarker(new Uint8Array([0xaa, 0xbb, 0xcc])), b.socket.local);
    await peer.send(buildNatKeepalive(), b.socket.local);
    await peer.send(
      new Uint8Array([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0, 0, 0, 0]),
      b.socket.local,
    );
    await peer.send(new Uint8Array([1, 2, 3]), b.socket.local);
    for (let i = 0; i < 50 && b.rx.get("dropInvalid") === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assertEquals(b.ike.length, 1);
    assertEquals(toHex(b.ike[0]!.message), "aabbcc");
    assertEquals(b.ike[0]!.from, peer.local);
    assertEquals(b.rx.get("rxIke"), 1);
    assertEquals(b.rx.get("rxKeepalive"), 1);
    assertEquals(b.rx.get("dropUnknownSpi"), 1);
    assertEquals(b.rx.get("dropInvalid"), 1);
  } finally {
    peer.close();
    await stop();
  }
});

Deno.test("send failures are counted and every buffer returns to the pool", async () => {
  const device = new MemoryDevice();
  const sadb = new Sadb();
  const { outbound, inbound } = saPair("aes128gcm16", PROVIDERS[0]!);
  sadb.installChild({ outbound, inbound, remotePrefixes: [parsePrefix("10.2.0.0/16")] });
  const counters = createTunToPeerCounters();
  let calls = 0;
  const loop = runTunToPeer(device, sadb, () => {
    calls++;
    return calls % 2 === 0 ? Promise.reject(new Error("network down")) : Promise.resolve();
  }, { counters, poolSize: 2 });
  for (let i = 0; i < 100; i++) device.inject(ipv4Packet(80, { id: i }));
  while (calls < 100) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 5));
  device.close();
  await loop;
  assertEquals(calls, 100);
  assertEquals(counters.get("txErrors"), 50);
  assertEquals(counters.get("txPackets"), 100);
  outbound.dispose();
  inbound.dispose();
});

Deno.test("handleInboundEsp delivers raw ESP and reports each drop reason", () => {
  const device = new MemoryDevice();
  const sadb = new Sadb();
  const { outbound, inbound } = saPair("aes256gcm16", PROVIDERS[0]!);
  sadb.installChild({ outbound, inbound, remotePrefixes: [parsePrefix("10.1.0.0/16")] });
  const out = new Uint8Array(2048);
  const packet = ipv4Packet(300, { src: "10.1.2.3" });
  const n = encapsulate(outbound, packet, out);
  const copy = out.slice(0, n);
  assertEquals(handleInboundEsp(sadb, out.subarray(0, n), device), InboundResult.Delivered);
  assertEquals(toHex(device.written[0]!), toHex(packet));
  assertEquals(handleInboundEsp(sadb, copy, device), InboundResult.Decap, "replay");
  assertEquals(handleInboundEsp(sadb, new Uint8Array(5), device), InboundResult.Malformed);
  const unknown = copy.slice();
  unknown[0] = 0x77;
  assertEquals(handleInboundEsp(sadb, unknown, device), InboundResult.UnknownSpi);
  const m = encapsulate(outbound, ipv4Packet(60, { src: "10.5.0.1" }), out);
  assertEquals(handleInboundEsp(sadb, out.subarray(0, m), device), InboundResult.Selector);
  const k = encapsulate(outbound, ipv6Packet(60), out, 4);
  assertEquals(handleInboundEsp(sadb, out.subarray(0, k), device), InboundResult.NextHeader);
  device.close();
  const d = encapsulate(outbound, ipv4Packet(60, { src: "10.1.0.1" }), out);
  assertEquals(handleInboundEsp(sadb, out.subarray(0, d), device), InboundResult.DeviceFull);
  const counters = inboundContextOf(sadb).counters;
  assertEquals(counters.get("txPackets"), 1);
  assertEquals(counters.get("dropReplay"), 1);
  assertEquals(counters.get("dropMalformed"), 1);
  assertEquals(counters.get("dropUnknownSpi"), 1);
  assertEquals(counters.get("dropSelector"), 1);
  assertEquals(counters.get("dropNextHeader"), 1);
  assertEquals(counters.get("dropDeviceFull"), 1);
  assertEquals(counters.get("rxPackets"), 7);
  assertEquals(inboundContextOf(new Sadb()).counters.get("rxPackets"), 0, "per SADB");
  outbound.dispose();
  inbound.dispose();
});

Deno.test("the loops end when the signal aborts", async () => {
  const device = new MemoryDevice();
  const net = new MemoryNetwork();
  const socket = net.open({ address: "198.51.100.1", port: 0 });
  const sadb = new Sadb();
  const abort = new AbortController();
  const tx = runTunToPeer(device, sadb, () => {}, { signal: abort.signal });
  const rx = runPeerToTun(socket, sadb, device, { signal: abort.signal });
  await new Promise((r) => setTimeout(r, 5));
  abort.abort();
  await Promise.all([tx, rx]);
  assert(!device.closed && !socket.closed, "the loops do not close what they do not own");
  socket.close();
  device.close();
});
