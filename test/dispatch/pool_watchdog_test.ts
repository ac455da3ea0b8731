/**
 * The pool's watchdog: a worker whose loop stops making progress (hangWorkerForTest blocks its
 * thread) is found within the hang timeout, terminated and restarted like a crashed one — its
 * SAs re-installed, its replay window resumed, the hang counted and sharing the crash bound —
 * while a worker idle in `poll` for many hang timeouts is left alone. Real worker threads on
 * loopback, as pool_restart_test.ts.
 */
import { assert, assertEquals } from "../_assert.ts";
import { sockaddrOf } from "../../lib/net/mod.ts";
import { DataPlanePool } from "../../lib/dispatch/mod.ts";
import {
  drain,
  freePort,
  LOOPBACK,
  pooledSaPair,
  sendEsp,
  startLoopbackPool,
  until,
} from "./_pool_fixture.ts";

const HANG_TIMEOUT_MS = 300;
const NO_EVENTS = {
  onIke: () => {},
  onKeepalive: () => {},
  onRemote: () => {},
  onNoRoute: () => {},
};

Deno.test("a hung worker is found within the hang timeout, terminated and restarted with its SAs", async () => {
  const lab = await startLoopbackPool({
    restartLimits: { minDelayMs: 50, maxRestarts: 2, windowMs: 60_000 },
    hangTimeoutMs: HANG_TIMEOUT_MS,
  });
  const { pool, logs } = lab;
  // Worker 1 owns the inbound SA (SPI % 2 = 1).
  const inbound = pooledSaPair(pool, {
    spi: 0xa0000031,
    direction: "in",
    encapsulation: lab.encapsulation,
  });
  try {
    await pool.addInbound(1, inbound.params, ["10.1.0.0/24"]);
    const first = sendEsp(lab.peer, inbound.peer, lab.port, 5);
    await until(() => inbound.state.counters.get("packets") === 5, 5000, "inbound before");
    assertEquals(drain(lab.pipes[1]![1]), 5);

    // 1. Hang worker 1: found, terminated and back within the bound.
    const hungAt = Date.now();
    pool.hangWorkerForTest(1);
    await until(() => pool.statistics().workerHangs === 1, 3000, "hang found");
    const detectedMs = Date.now() - hungAt;
    await until(() => pool.statistics().workerRestarts === 1, 3000, "restart");
    const restartedMs = Date.now() - hungAt;
    console.log(`hang found after ${detectedMs} ms, worker back after ${restartedMs} ms`);
    // Timeout, plus a watchdog interval (timeout / 4) of lag, plus scheduling slack.
    assert(detectedMs >= HANG_TIMEOUT_MS, `not before the timeout (${detectedMs} ms)`);
    assert(detectedMs <= HANG_TIMEOUT_MS * 2 + 200, `found in time (${detectedMs} ms)`);
    const stats = pool.statistics();
    assertEquals(stats.workersRunning, 2);
    assertEquals(stats.workerCrashes, 0, "a hang is not a crash");
    assertEquals(stats.workersFailed, 0);
    assert(
      logs.some((l) =>
        /warn +dispatch data-plane worker 1 hung: no progress for \d+\.\d s \(busy\); terminated; restarting it in \d+ ms/
          .test(l)
      ),
      `one warning naming the worker and how long:\n${logs.join("\n")}`,
    );
    await until(
      () =>
        logs.some((l) =>
          /data-plane worker 1 is back: 1 realm\(s\), 1 inbound and 0 outbound/.test(l)
        ),
      5000,
      "its SAs were re-installed",
    );

    // The re-installed SA works, and its replay window resumed: old packets stay out.
    const replaysBefore = inbound.state.counters.get("dropReplay");
    for (const esp of first) {
      assert(lab.peer.sendTo(esp, sockaddrOf({ address: LOOPBACK, port: lab.port })));
    }
    sendEsp(lab.peer, inbound.peer, lab.port, 5);
    await until(() => inbound.state.counters.get("packets") === 10, 5000, "inbound after");
    await until(() => inbound.state.counters.get("dropReplay") === replaysBefore + 5);
    assertEquals(drain(lab.pipes[1]![1]), 5, "only the new packets reach the TUN");

    // 2. Hangs and crashes share the bound (2 restarts in the window): crash, hang, given up.
    pool.crashWorkerForTest(1);
    await until(() => pool.statistics().workerRestarts === 2, 3000, "restart after the crash");
    pool.hangWorkerForTest(1);
    await until(() => pool.statistics().workersFailed === 1, 3000, "given up");
    assertEquals(pool.statistics().workerHangs, 2);
    assertEquals(pool.statistics().workerCrashes, 1);
    assertEquals(pool.statistics().workersRunning, 1);
    assert(
      logs.some((l) =>
        /error +dispatch data-plane worker 1 crashed or hung 3 times .*\(hung: /.test(l)
      ),
      `an error when it gives up:\n${logs.filter((l) => /dispatch/.test(l)).join("\n")}`,
    );
  } finally {
    inbound.peer.dispose();
    await lab.close();
  }
});

Deno.test("an idle worker is not taken for hung, and a stopped pool leaves no timer", async () => {
  // The watchdog's interval is unref'd, which the test sanitizer does not see: count intervals.
  const live = new Set<unknown>();
  const realSetInterval = globalThis.setInterval;
  const realClearInterval = globalThis.clearInterval;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const id = realSetInterval(...args);
    live.add(id);
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id: Parameters<typeof clearInterval>[0]) => {
    live.delete(id);
    realClearInterval(id);
  }) as typeof clearInterval;
  try {
    const lab = await startLoopbackPool({ hangTimeoutMs: HANG_TIMEOUT_MS });
    try {
      assertEquals(live.size, 1, "the watchdog runs");
      // Idle in poll (500 ms timeout) for many hang timeouts: the heartbeat keeps moving.
      await new Promise((resolve) => setTimeout(resolve, HANG_TIMEOUT_MS * 8));
      const stats = lab.pool.statistics();
      assertEquals(stats.workerHangs, 0, `no hang:\n${lab.logs.join("\n")}`);
      assertEquals(stats.workerRestarts, 0);
      assertEquals(stats.workersRunning, 2);
    } finally {
      await lab.close();
    }
    assertEquals(live.size, 0, "stop() cleared the watchdog");
  } finally {
    globalThis.setInterval = realSetInterval;
    globalThis.clearInterval = realClearInterval;
  }
});

Deno.test("a pool refuses a hang timeout below 100 ms", () => {
  let error: unknown;
  try {
    DataPlanePool.open({
      workers: 1,
      address: LOOPBACK,
      natTPort: freePort(),
      rawEsp: false,
      events: NO_EVENTS,
      hangTimeoutMs: 50,
    });
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, "a RangeError");
  assert(/hang timeout of 50 ms/.test(error.message), error.message);
});
