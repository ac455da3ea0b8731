/**
 * The data-plane pool with real worker threads on loopback: two workers, their "TUN queues"
 * Unix datagram socket pairs (queue i read by worker i), the NAT-T port a SO_REUSEPORT group on
 * 127.0.0.1. Inbound ESP reaches the worker that owns its SPI (the kernel program), outbound
 * leaves from the worker whose queue the packet came in on, both sharing one sequence space;
 * IKE on the port reaches the main thread; counters are read without messages; stop ends both
 * workers.
 */
import { assert, assertEquals } from "../_assert.ts";
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import { decapsulate, encapsulate, EspSa } from "../../lib/esp/mod.ts";
import type { Endpoint } from "../../lib/net/mod.ts";
import {
  boundPort,
  openBatchUdpSocket,
  PacketBatch,
  PollSet,
  sockaddrOf,
} from "../../lib/net/mod.ts";
import { libc } from "../../lib/sys/mod.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { DataPlanePool } from "../../lib/dispatch/mod.ts";
import type { WorkerSaParams } from "../../lib/dispatch/mod.ts";
import { ipv4Packet, randomBytes } from "../esp/_helpers.ts";
import { freePort, LOOPBACK, packetPipe, until } from "./_pool_fixture.ts";

Deno.test("a pool of two workers steers ESP by SPI, sends from either queue and hands IKE to main", async () => {
  const ike: { data: Uint8Array; from: Endpoint }[] = [];
  const logs: string[] = [];
  const previousSinks = setLogSinks([(_r, line) => logs.push(line)]);
  const port = freePort();
  const pool = DataPlanePool.open({
    workers: 2,
    address: LOOPBACK,
    natTPort: port,
    rawEsp: false,
    events: {
      onIke: (data, from) => ike.push({ data, from }),
      onKeepalive: () => {},
      onRemote: () => {},
      onNoRoute: () => {},
    },
  });
  const pipes = [packetPipe(), packetPipe()];
  const peer = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const crypto = new LibcryptoProvider();
  const sas: EspSa[] = [];
  try {
    const counters = pool.createRealmCounters();
    await pool.start([{
      id: 1,
      name: "rhp-pool",
      mtu: 1400,
      queues: pipes.map(([worker]) => worker),
      counters: counters.shared,
      offload: false,
    }]);
    const encapsulation = {
      local: { address: LOOPBACK, port },
      remote: { address: LOOPBACK, port: boundPort(peer.fd) },
    };
    const params = (spi: number, direction: "in" | "out", key: Uint8Array) => {
      const state = pool.createSaState();
      const p: WorkerSaParams = {
        spi,
        direction,
        encryption: "aes-gcm-16",
        integrity: "none",
        encryptionKey: key,
        integrityKey: new Uint8Array(0),
        encapsulation,
        peerAddress: LOOPBACK,
        shared: state.shared,
      };
      return { p, state };
    };
    const peerSa = (spi: number, direction: "in" | "out", key: Uint8Array) => {
      const sa = new EspSa({
        spi,
        direction,
        encryption: "aes-gcm-16",
        integrity: "none",
        encryptionKey: key,
        encapsulation: null,
        peerAddress: LOOPBACK,
        crypto,
        replayWindow: 0,
      });
      sas.push(sa);
      return sa;
    };

    // Inbound: two SAs, one per worker (SPI % 2).
    const inbound = [0xa0000010, 0xa0000011].map((spi) => {
      const key = randomBytes(36);
      const { p, state } = params(spi, "in", key);
      return { spi, p, state, peer: peerSa(spi, "out", key) };
    });
    for (const sa of inbound) await pool.addInbound(1, sa.p, ["10.1.0.0/24"]);
    const name = sockaddrOf({ address: LOOPBACK, port });
    for (const sa of inbound) {
      for (let n = 0; n < 5; n++) {
        const out = new Uint8Array(2048);
        const length = encapsulate(sa.peer, ipv4Packet(80, { src: "10.1.0.3", id: n }), out);
        assert(peer.sendTo(out.subarray(0, length), name));
      }
    }
    await until(() => inbound.every((sa) => sa.state.counters.get("packets") === 5));
    // Each SA's packets came out of its owner's queue only.
    const buf = new Uint8Array(4096);
    const delivered = pipes.map(([, test]) => {
      let n = 0;
      while (libc().read(test, buf, 4096n) > 0) n++;
      return n;
    });
    assertEquals(delivered, [5, 5], "SPI % 2: five packets out of each worker's queue");
    assertEquals(counters.inbound.get("txPackets"), 10, "realm counters summed over workers");

    // Outbound: one SA in both workers; packets enter through both queues.
    const key = randomBytes(36);
    const { p, state } = params(0xb0000001, "out", key);
    await pool.addOutbound(1, p, ["10.2.0.0/24"], true);
    const receiver = peerSa(0xb0000001, "in", key);
    for (let n = 0; n < 20; n++) {
      const packet = ipv4Packet(120, { dst: "10.2.0.5", id: n });
      libc().write(pipes[n % 2]![1], packet, BigInt(packet.length));
    }
    const batch = new PacketBatch({ count: 64, slotSize: 2048 });
    const poll = new PollSet([peer.fd]);
    const sequences: number[] = [];
    await until(() => {
      if (poll.wait(0) > 0) {
        const n = peer.receive(batch);
        for (let i = 0; i < n; i++) {
          const esp = batch.slots[i]!.subarray(0, batch.lengths[i]!);
          sequences.push(new DataView(esp.buffer, esp.byteOffset).getUint32(4));
          assert(typeof decapsulate(receiver, esp) !== "number", "decrypts");
        }
      }
      return sequences.length === 20;
    });
    assertEquals(
      [...sequences].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
      "one sequence space across both workers",
    );
    assertEquals(state.counters.get("packets"), 20);

    // IKE on the port reaches the main thread, through worker 0.
    const message = new Uint8Array(36);
    message.set([9, 9, 9], 4);
    assert(peer.sendTo(message, name));
    await until(() => ike.length === 1);
    assertEquals(ike[0]!.data, message.slice(4));
    assertEquals(ike[0]!.from.port, boundPort(peer.fd));

    await pool.removeOutbound(0xb0000001);
    for (const sa of inbound) await pool.removeInbound(sa.spi);
  } finally {
    await pool.stop();
    for (const [a, b] of pipes) {
      libc().close(a);
      libc().close(b);
    }
    peer.close();
    for (const sa of sas) sa.dispose();
    setLogSinks(previousSinks);
  }
  assert(logs.some((l) => /data plane: 2 worker\(s\)/.test(l)), "the start is logged");
  assert(!logs.some((l) => /failed/.test(l)), `no worker failure: ${logs.join("\n")}`);
});
