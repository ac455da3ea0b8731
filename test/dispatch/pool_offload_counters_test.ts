/**
 * The workers' offload counters reach the main thread: a TCP super packet split by a worker's
 * GsoSplitter and decrypted segments coalesced by its GroCoalescer show up, summed over the
 * workers, in the pool's statistics (what `ctl stats` prints), without a message. Real worker
 * threads on loopback, as pool_test.ts.
 */
import { assert, assertEquals } from "../_assert.ts";
import { encapsulate } from "../../lib/esp/mod.ts";
import { PacketBatch, sockaddrOf } from "../../lib/net/mod.ts";
import { libc } from "../../lib/sys/mod.ts";
import { payloadBytes, referenceSegments, superFrame } from "../esp/_offload_packets.ts";
import { LOOPBACK, pooledSaPair, startLoopbackPool, until } from "./_pool_fixture.ts";

Deno.test("offload counters of the workers are summed in the pool's statistics", async () => {
  const lab = await startLoopbackPool({ offload: true });
  const { pool, encapsulation } = lab;
  const outbound = pooledSaPair(pool, { spi: 0xb0000041, direction: "out", encapsulation });
  const inbound = pooledSaPair(pool, { spi: 0xa0000041, direction: "in", encapsulation });
  try {
    const before = pool.statistics();
    assertEquals(before.gsoSuperPackets, 0);
    assertEquals(before.groSuperFrames, 0);
    await pool.addOutbound(1, outbound.params, ["10.2.0.0/24"], true);
    await pool.addInbound(1, inbound.params, ["10.1.0.0/24"]);

    // Outbound: a 10-segment super packet into worker 0's queue is split (GSO).
    const frame = superFrame({ seq: 5000, payload: payloadBytes(10 * 900, 3) }, 900);
    libc().write(lab.pipes[0]![1], frame, BigInt(frame.length));
    await until(() => outbound.state.counters.get("packets") === 10, 5000, "10 segments sent");

    // Inbound: 20 consecutive TCP segments are coalesced (GRO) by the SPI's owner.
    const segments = referenceSegments({ seq: 9000, payload: payloadBytes(20 * 1000, 5) }, 1000);
    const batch = new PacketBatch({ count: segments.length, slotSize: 2048 });
    const name = sockaddrOf({ address: LOOPBACK, port: lab.port });
    segments.forEach((segment, i) => {
      batch.setLength(i, encapsulate(inbound.peer, segment, batch.slots[i]!));
      batch.setName(i, name);
    });
    assertEquals(lab.peer.send(batch, segments.length), segments.length);
    await until(() => pool.statistics().groPackets === 20, 5000, "20 packets coalesced");

    const stats = pool.statistics();
    const offload = Object.fromEntries(
      Object.entries(stats).filter(([k]) => /^(gso|gro|udp)/.test(k)),
    );
    console.log(`offload statistics: ${JSON.stringify(offload)}`);
    assertEquals(stats.gsoFrames, 1);
    assertEquals(stats.gsoSuperPackets, 1);
    assertEquals(stats.gsoSegments, 10);
    assertEquals(stats.gsoErrorMalformed, 0);
    assert(stats.groSuperFrames >= 1, "at least one super frame");
    assert(stats.groCoalescedPackets >= 2, "packets merged into it");
    assertEquals(stats.groChecksumInvalid, 0);
    assertEquals(stats.groDropNoRoom, 0);
    // The 10 equal ESP datagrams left as one UDP GSO message, or the kernel refused it (counted).
    assert(
      (stats.udpGsoMessages === 1 && stats.udpGsoDatagrams === 10) || stats.udpGsoRefused === 1,
      "UDP GSO counted",
    );
  } finally {
    outbound.peer.dispose();
    inbound.peer.dispose();
    await lab.close();
  }
});
