/**
 * A crashed data-plane worker comes back: the pool restarts it on the same descriptors with its
 * realm and SAs, sequence numbers continue, the replay window resumes (a packet accepted
 * before the crash is still a replay), control posted while it is down is applied, the drops it
 * counted reach the pool's statistics, and past the restart bound it stays down while the pool
 * (and the other worker) keeps running. Real worker threads on loopback, as pool_test.ts.
 */
import { assert, assertEquals } from "../_assert.ts";
import { decapsulate } from "../../lib/esp/mod.ts";
import { PacketBatch, PollSet, sockaddrOf } from "../../lib/net/mod.ts";
import { libc } from "../../lib/sys/mod.ts";
import { ipv4Packet } from "../esp/_helpers.ts";
import {
  drain,
  LOOPBACK,
  type PooledSaPair,
  pooledSaPair,
  sendEsp,
  startLoopbackPool,
  until,
} from "./_pool_fixture.ts";

Deno.test("a crashed worker is restarted with its SAs, sequence numbers continue and replays stay out", async () => {
  const lab = await startLoopbackPool({
    restartLimits: { minDelayMs: 50, maxRestarts: 2, windowMs: 60_000 },
  });
  const { pool, logs, pipes, peer, port, encapsulation } = lab;
  const name = sockaddrOf({ address: LOOPBACK, port });
  const pairs: PooledSaPair[] = [];
  const pair = (spi: number, direction: "in" | "out") => {
    const made = pooledSaPair(pool, { spi, direction, encapsulation });
    pairs.push(made);
    return made;
  };
  try {
    // Worker 1 owns the inbound SA (SPI % 2 = 1); the outbound SA is in both workers.
    const inbound = pair(0xa0000021, "in");
    await pool.addInbound(1, inbound.params, ["10.1.0.0/24"]);
    const outbound = pair(0xb0000021, "out");
    await pool.addOutbound(1, outbound.params, ["10.2.0.0/24"], true);

    const batch = new PacketBatch({ count: 64, slotSize: 2048 });
    const poll = new PollSet([peer.fd]);
    const sequences: number[] = [];
    /** Writes `count` packets into worker 1's queue and collects the ESP it sends. */
    const sendOutbound = async (count: number) => {
      const before = sequences.length;
      for (let n = 0; n < count; n++) {
        const packet = ipv4Packet(120, { dst: "10.2.0.5", id: n });
        libc().write(pipes[1]![1], packet, BigInt(packet.length));
      }
      await until(
        () => {
          if (poll.wait(0) > 0) {
            const n = peer.receive(batch);
            for (let i = 0; i < n; i++) {
              const esp = batch.slots[i]!.subarray(0, batch.lengths[i]!);
              sequences.push(new DataView(esp.buffer, esp.byteOffset).getUint32(4));
              assert(typeof decapsulate(outbound.peer, esp) !== "number", "decrypts");
            }
          }
          return sequences.length === before + count;
        },
        5000,
        `${count} ESP packets from worker 1`,
      );
    };

    const first = sendEsp(peer, inbound.peer, port, 5);
    await until(() => inbound.state.counters.get("packets") === 5);
    assertEquals(drain(pipes[1]![1]), 5, "delivered by worker 1");
    await sendOutbound(10);

    // 1. Crash worker 1; the pool brings it back.
    pool.crashWorkerForTest(1);
    await until(() => pool.statistics().workerRestarts === 1, 5000, "restart");
    assertEquals(pool.statistics().workersRunning, 2);
    assertEquals(pool.statistics().workerCrashes, 1);
    assert(
      logs.some((l) => /WARN.*data-plane worker 1 crashed: .*test crash/i.test(l)),
      `one warning with the reason:\n${logs.join("\n")}`,
    );
    // Logged once the re-installed state is acknowledged, a little after the restart count.
    await until(
      () =>
        logs.some((l) =>
          /data-plane worker 1 is back: 1 realm\(s\), 1 inbound and 1 outbound/.test(l)
        ),
      5000,
      "one info line when it is back",
    );

    // Replays of packets the dead worker accepted are still replays; new packets pass.
    const replaysBefore = inbound.state.counters.get("dropReplay");
    for (const esp of first) assert(peer.sendTo(esp, name));
    sendEsp(peer, inbound.peer, port, 5);
    await until(() => inbound.state.counters.get("packets") === 10, 5000, "new inbound");
    await until(() => inbound.state.counters.get("dropReplay") === replaysBefore + 5);
    assertEquals(drain(pipes[1]![1]), 5, "only the new packets reach the TUN");

    // Sequence numbers continue after the crash: one space, never repeated.
    await sendOutbound(10);
    assertEquals(sequences, Array.from({ length: 20 }, (_, i) => i + 1), "sequence numbers");
    assertEquals(outbound.state.counters.get("packets"), 20);

    // 2. Control posted while the worker is down is applied when it is back.
    pool.crashWorkerForTest(1);
    await until(() => pool.statistics().workersRunning === 1, 5000, "worker 1 down");
    const late = pair(0xa0000023, "in");
    await pool.addInbound(1, late.params, ["10.1.0.0/24"]);
    await until(() => pool.statistics().workerRestarts === 2, 5000, "second restart");
    sendEsp(peer, late.peer, port, 3);
    await until(() => late.state.counters.get("packets") === 3, 5000, "SA added while down");
    assertEquals(drain(pipes[1]![1]), 3);

    // Drops counted in the workers reach the statistics (and survive the restart).
    const unknown = new Uint8Array(64);
    new DataView(unknown.buffer).setUint32(0, 0xa0000fff);
    new DataView(unknown.buffer).setUint32(4, 1);
    assert(peer.sendTo(unknown, name));
    await until(() => pool.statistics().dropUnknownSpi === 1, 5000, "unknown SPI counted");

    // 3. Past the bound (2 restarts in the window) worker 1 stays down; worker 0 runs on.
    pool.crashWorkerForTest(1);
    await until(() => pool.statistics().workersFailed === 1, 5000, "given up");
    assertEquals(pool.statistics().workersRunning, 1);
    assertEquals(pool.statistics().workerCrashes, 3);
    assert(
      logs.some((l) => /error +dispatch data-plane worker 1 crashed 3 times .*degraded/.test(l)),
      `an error when it gives up:\n${logs.filter((l) => /crash/.test(l)).join("\n")}`,
    );
    await pool.removeInbound(0xa0000023); // control to a failed worker neither hangs nor throws
    libc().write(pipes[0]![1], ipv4Packet(120, { dst: "10.2.0.5" }), 120n);
    const before = sequences.length;
    await until(
      () => {
        if (poll.wait(0) > 0) {
          const n = peer.receive(batch);
          for (let i = 0; i < n; i++) {
            const esp = batch.slots[i]!.subarray(0, batch.lengths[i]!);
            sequences.push(new DataView(esp.buffer, esp.byteOffset).getUint32(4));
          }
        }
        return sequences.length === before + 1;
      },
      5000,
      "worker 0 still sends",
    );
    assertEquals(sequences.at(-1), 21);
  } finally {
    await lab.close();
    for (const made of pairs) made.peer.dispose();
  }
});
