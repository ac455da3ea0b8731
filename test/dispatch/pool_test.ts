/**
 * The data-plane pool with real worker threads on loopback: two workers, their "TUN queues"
 * Unix datagram socket pairs (queue i read by worker i), the NAT-T port a SO_REUSEPORT group on
 * 127.0.0.1. Inbound ESP reaches the worker that owns its SPI (the kernel program), outbound
 * leaves from the worker whose queue the packet came in on, both sharing one sequence space;
 * IKE on the port reaches the main thread; counters are read without messages; stop ends both
 * workers.
 */
import { assert, assertEquals } from "../_assert.ts";
import { decapsulate } from "../../lib/esp/mod.ts";
import type { Endpoint } from "../../lib/net/mod.ts";
import { boundPort, PacketBatch, PollSet, sockaddrOf } from "../../lib/net/mod.ts";
import { libc } from "../../lib/sys/mod.ts";
import { ipv4Packet } from "../esp/_helpers.ts";
import {
  drain,
  LOOPBACK,
  pooledSaPair,
  sendEsp,
  startLoopbackPool,
  until,
} from "./_pool_fixture.ts";

Deno.test("a pool of two workers steers ESP by SPI, sends from either queue and hands IKE to main", async () => {
  const ike: { data: Uint8Array; from: Endpoint }[] = [];
  const lab = await startLoopbackPool({
    events: { onIke: (data, from) => ike.push({ data, from }) },
  });
  const { pool, logs, pipes, peer, port, counters, encapsulation } = lab;
  const pair = (spi: number, direction: "in" | "out") =>
    pooledSaPair(pool, { spi, direction, encapsulation });
  const inbound = [pair(0xa0000010, "in"), pair(0xa0000011, "in")];
  const outbound = pair(0xb0000001, "out");
  try {
    // Inbound: two SAs, one per worker (SPI % 2).
    for (const sa of inbound) await pool.addInbound(1, sa.params, ["10.1.0.0/24"]);
    for (const sa of inbound) sendEsp(peer, sa.peer, port, 5);
    await until(() => inbound.every((sa) => sa.state.counters.get("packets") === 5));
    // Each SA's packets came out of its owner's queue only.
    const delivered = pipes.map(([, test]) => drain(test));
    assertEquals(delivered, [5, 5], "SPI % 2: five packets out of each worker's queue");
    assertEquals(counters.inbound.get("txPackets"), 10, "realm counters summed over workers");

    // Outbound: one SA in both workers; packets enter through both queues.
    await pool.addOutbound(1, outbound.params, ["10.2.0.0/24"], true);
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
          assert(typeof decapsulate(outbound.peer, esp) !== "number", "decrypts");
        }
      }
      return sequences.length === 20;
    });
    assertEquals(
      [...sequences].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
      "one sequence space across both workers",
    );
    assertEquals(outbound.state.counters.get("packets"), 20);

    // IKE on the port reaches the main thread, through worker 0.
    const message = new Uint8Array(36);
    message.set([9, 9, 9], 4);
    assert(peer.sendTo(message, sockaddrOf({ address: LOOPBACK, port })));
    await until(() => ike.length === 1);
    assertEquals(ike[0]!.data, message.slice(4));
    assertEquals(ike[0]!.from.port, boundPort(peer.fd));

    await pool.removeOutbound(0xb0000001);
    for (const sa of inbound) await pool.removeInbound(sa.params.spi);
  } finally {
    await lab.close();
    for (const sa of [...inbound, outbound]) sa.peer.dispose();
  }
  assert(logs.some((l) => /data plane: 2 worker\(s\)/.test(l)), "the start is logged");
  assert(!logs.some((l) => /failed/.test(l)), `no worker failure: ${logs.join("\n")}`);
});
