/**
 * The IKE thread's priority scheduler: known IKE SAs' datagrams before new IKE_SA_INIT
 * requests, bounded classes with counted drops, stale IKE_SA_INIT requests expired on a fake
 * clock, per-turn budgets that let timers run between turns, the classification rule on real
 * messages of an exchange, and a stop that leaves no timer behind.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { ExchangeType, HeaderFlag } from "../../lib/ike/constants.ts";
import { decodeMessage, encodeMessage } from "../../lib/ike/payloads/mod.ts";
import type { Endpoint } from "../../lib/net/mod.ts";
import {
  DEFAULT_IKE_RULES,
  IkeScheduler,
  type IkeSchedulerOptions,
} from "../../lib/dispatch/mod.ts";
import { closeAll, gatewayPair, initRequest, nextEvent } from "../ike/_engine_fixture.ts";

/** One datagram the scheduler handed on. */
interface Handled {
  data: Uint8Array;
  from: Endpoint;
  localPort: number;
}

/** An INFORMATIONAL request of an established IKE SA (header only: the class needs no more). */
function informational(n: number): Uint8Array {
  const spi = (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(4, v);
    return b;
  };
  return encodeMessage({
    initiatorSpi: spi(n + 1),
    responderSpi: spi(0x8000_0000 + n),
    majorVersion: 2,
    minorVersion: 0,
    exchangeType: ExchangeType.Informational,
    flags: HeaderFlag.Initiator,
    messageId: 2,
  }, []);
}

function from(port: number): Endpoint {
  return { address: "203.0.113.50", port };
}

/** A scheduler that records what it hands on. */
function recordingScheduler(
  options: IkeSchedulerOptions = {},
): { scheduler: IkeScheduler; handled: Handled[] } {
  const handled: Handled[] = [];
  const scheduler = new IkeScheduler(
    (data, from, localPort) => handled.push({ data, from, localPort }),
    options,
  );
  return { scheduler, handled };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until every class is empty. */
async function drained(scheduler: IkeScheduler): Promise<void> {
  while (
    scheduler.queued("control") + scheduler.queued("ike") + scheduler.queued("init") > 0
  ) {
    await delay(1);
  }
}

const isInformational = (h: Handled) => h.data[18] === ExchangeType.Informational;

Deno.test("handles a known IKE SA's datagram before a burst of new IKE_SA_INIT requests", async () => {
  const { scheduler, handled } = recordingScheduler({ limits: { initLimit: 4096 } });
  for (let i = 0; i < 2000; i++) scheduler.enqueue(initRequest(i), from(10_000 + i), 500);
  scheduler.enqueue(informational(1), from(4500), 4500);
  await drained(scheduler);
  assertEquals(handled.length, 2001);
  assertEquals(handled.findIndex(isInformational), 0);
  // The rest in arrival order.
  assertEquals(
    handled.slice(1).map((h) => h.from.port),
    [...Array(2000)].map((_, i) => 10_000 + i),
  );
  assertEquals(handled[0]!.localPort, 4500);
  scheduler.stop();
});

Deno.test("a datagram that arrives during a backlog waits for at most one turn's budget of IKE_SA_INIT", async () => {
  const budget = 128;
  const { scheduler, handled } = recordingScheduler({
    limits: { initLimit: 4096, initBudget: budget },
  });
  for (let i = 0; i < 2000; i++) scheduler.enqueue(initRequest(i), from(10_000 + i), 500);
  await delay(0); // the scheduler's first turn (armed earlier) runs before this timer
  assertEquals(handled.length, budget);
  scheduler.enqueue(informational(1), from(4500), 4500);
  await drained(scheduler);
  assertEquals(handled.length, 2001);
  assertEquals(handled.findIndex(isInformational), budget);
  scheduler.stop();
});

Deno.test("runs control tasks before any datagram", async () => {
  const order: string[] = [];
  const scheduler = new IkeScheduler((data) => order.push(DEFAULT_IKE_RULES.ikeClass(data)));
  scheduler.enqueue(initRequest(1), from(1), 500);
  scheduler.enqueue(informational(1), from(2), 500);
  scheduler.control(() => {
    order.push("control");
    scheduler.control(() => order.push("control again"));
  });
  await drained(scheduler);
  assertEquals(order, ["control", "control again", "ike", "init"]);
  scheduler.stop();
});

Deno.test("counts a datagram over its class's bound as a drop", async () => {
  const { scheduler, handled } = recordingScheduler({
    limits: { initLimit: 10, ikeLimit: 5, controlLimit: 2 },
  });
  let accepted = 0;
  for (let i = 0; i < 15; i++) accepted += scheduler.enqueue(initRequest(i), from(i), 500) ? 1 : 0;
  for (let i = 0; i < 8; i++) accepted += scheduler.enqueue(informational(i), from(i), 500) ? 1 : 0;
  for (let i = 0; i < 3; i++) accepted += scheduler.control(() => {}) ? 1 : 0;
  assertEquals(accepted, 10 + 5 + 2);
  assertEquals(scheduler.counters.get("initQueueDropped"), 5);
  assertEquals(scheduler.counters.get("ikeQueueDropped"), 3);
  assertEquals(scheduler.counters.get("controlQueueDropped"), 1);
  assertEquals(scheduler.counters.get("initQueuePeak"), 10);
  assertEquals(scheduler.counters.get("ikeQueuePeak"), 5);
  await drained(scheduler);
  assertEquals(handled.length, 15);
  // The queues have room again; the peaks stay.
  assert(scheduler.enqueue(initRequest(99), from(99), 500));
  assertEquals(scheduler.counters.get("initQueuePeak"), 10);
  await drained(scheduler);
  scheduler.stop();
});

Deno.test("bounds a class's bytes as well as its datagrams", async () => {
  const { scheduler, handled } = recordingScheduler({ limits: { ikeBytesLimit: 3000 } });
  const junk = new Uint8Array(1000).fill(0xab); // not an IKE_SA_INIT request: class ike
  for (let i = 0; i < 5; i++) scheduler.enqueue(junk, from(i), 500);
  assertEquals(scheduler.queued("ike"), 3);
  assertEquals(scheduler.counters.get("ikeQueueDropped"), 2);
  await drained(scheduler);
  assertEquals(handled.length, 3);
  scheduler.stop();
});

Deno.test("copies the datagram: the caller may reuse its receive buffer", async () => {
  const { scheduler, handled } = recordingScheduler();
  const buffer = new Uint8Array(65535);
  const message = initRequest(7);
  buffer.set(message);
  scheduler.enqueue(buffer.subarray(0, message.length), from(1), 500);
  buffer.fill(0);
  await drained(scheduler);
  assertEquals([...handled[0]!.data], [...message]);
  scheduler.stop();
});

Deno.test("drops IKE_SA_INIT requests that waited longer than initMaxAgeMs, counted", async () => {
  let now = 1_000;
  const { scheduler, handled } = recordingScheduler({
    now: () => now,
    limits: { initMaxAgeMs: 2000 },
  });
  for (let i = 0; i < 5; i++) scheduler.enqueue(initRequest(i), from(i), 500);
  now += 2500;
  for (let i = 5; i < 7; i++) scheduler.enqueue(initRequest(i), from(i), 500);
  scheduler.enqueue(informational(1), from(100), 500); // ike: never expires
  await drained(scheduler);
  assertEquals(handled.map((h) => h.from.port), [100, 5, 6]);
  assertEquals(scheduler.counters.get("initQueueExpired"), 5);
  scheduler.stop();
});

Deno.test("spreads a backlog over turns within the budgets, and timers run between turns", async () => {
  // A timer chain of the test's own: how many of its ticks ran before each datagram.
  let ticks = 0;
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    ticks++;
    if (!done) timer = setTimeout(tick, 0);
  };
  timer = setTimeout(tick, 0);
  const handled: { ike: boolean; ticks: number }[] = [];
  const scheduler = new IkeScheduler((data) => {
    handled.push({ ike: DEFAULT_IKE_RULES.ikeClass(data) === "ike", ticks });
  }, { limits: { initBudget: 100, ikeBudget: 250 } });
  for (let i = 0; i < 1000; i++) scheduler.enqueue(initRequest(i), from(i), 500);
  for (let i = 0; i < 600; i++) scheduler.enqueue(informational(i), from(i), 500);
  await drained(scheduler);
  done = true;
  clearTimeout(timer);

  // Every ike datagram first ...
  assertEquals(handled.findIndex((h) => !h.ike), 600);
  // ... in turns of at most 250, then the init ones in turns of at most 100, with the test's
  // timer running between turns (a turn = the datagrams handled at one tick count).
  const turnSizes = (part: typeof handled) => {
    const sizes = new Map<number, number>();
    for (const h of part) sizes.set(h.ticks, (sizes.get(h.ticks) ?? 0) + 1);
    return [...sizes.values()];
  };
  const ikeTurns = turnSizes(handled.slice(0, 600));
  const initTurns = turnSizes(handled.slice(600));
  assert(ikeTurns.length >= 3 && Math.max(...ikeTurns) <= 250, `ike turns: ${ikeTurns}`);
  assert(initTurns.length >= 10 && Math.max(...initTurns) <= 100, `init turns: ${initTurns}`);
  scheduler.stop();
});

Deno.test("a handler that fails is logged, and the queue goes on", async () => {
  const lines: string[] = [];
  const restore = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    let calls = 0;
    const scheduler = new IkeScheduler(() => {
      calls++;
      if (calls === 1) throw new Error("synchronous failure");
      return calls === 2 ? Promise.reject(new Error("asynchronous failure")) : undefined;
    });
    for (let i = 0; i < 3; i++) scheduler.enqueue(informational(i), from(i), 500);
    await drained(scheduler);
    await delay(0);
    assertEquals(calls, 3);
    assert(lines.some((l) => l.includes("synchronous failure")), lines.join("\n"));
    assert(lines.some((l) => l.includes("asynchronous failure")), lines.join("\n"));
    scheduler.stop();
  } finally {
    setLogSinks(restore);
  }
});

Deno.test("stop drops what is queued, cancels the next turn and refuses more", async () => {
  const { scheduler, handled } = recordingScheduler();
  scheduler.enqueue(initRequest(1), from(1), 500);
  scheduler.enqueue(informational(1), from(2), 500);
  scheduler.control(() => handled.push({ data: new Uint8Array(), from: from(0), localPort: 0 }));
  scheduler.stop();
  assertEquals(scheduler.queued("init") + scheduler.queued("ike") + scheduler.queued("control"), 0);
  assertEquals(scheduler.enqueue(initRequest(2), from(3), 500), false);
  assertEquals(scheduler.control(() => {}), false);
  await delay(5);
  assertEquals(handled.length, 0);
  // Deno.test's sanitizers fail the test if a timer were still pending.
});

Deno.test("classifies only new IKE_SA_INIT requests of a real exchange as init", async () => {
  const restore = setLogSinks([]);
  try {
    const { wire, a, b } = gatewayPair();
    const seen: Uint8Array[] = [];
    wire.drop = (bytes) => {
      seen.push(bytes.slice());
      return false;
    };
    const established = nextEvent(b.engine, "established");
    a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    await established;
    await closeAll(a, b);
    await Promise.all(wire.pending);

    const kinds = new Map<string, Set<string>>();
    for (const bytes of seen) {
      const { header } = decodeMessage(bytes);
      const response = (header.flags & HeaderFlag.Response) !== 0;
      const name = `${header.exchangeType}${response ? " response" : " request"}`;
      const set = kinds.get(name) ?? new Set();
      set.add(DEFAULT_IKE_RULES.ikeClass(bytes));
      kinds.set(name, set);
    }
    assertEquals(Object.fromEntries([...kinds].map(([k, v]) => [k, [...v]])), {
      [`${ExchangeType.IkeSaInit} request`]: ["init"],
      [`${ExchangeType.IkeSaInit} response`]: ["ike"],
      [`${ExchangeType.IkeAuth} request`]: ["ike"],
      [`${ExchangeType.IkeAuth} response`]: ["ike"],
      [`${ExchangeType.Informational} request`]: ["ike"],
      [`${ExchangeType.Informational} response`]: ["ike"],
    });
  } finally {
    setLogSinks(restore);
  }
});

Deno.test("classifies a request with a COOKIE as init, and odd or short headers as ike", () => {
  const classOf = DEFAULT_IKE_RULES.ikeClass;
  assertEquals(classOf(initRequest(1)), "init");
  assertEquals(classOf(initRequest(1, new Uint8Array(32).fill(5))), "init");
  assertEquals(classOf(informational(1)), "ike");
  // Too short to classify: the engine counts it as malformed.
  assertEquals(classOf(initRequest(1).subarray(0, 27)), "ike");
  assertEquals(classOf(new Uint8Array(0)), "ike");
  // IKE_SA_INIT with a responder SPI or a message ID other than 0: not a new request.
  const withResponderSpi = initRequest(1);
  withResponderSpi[15] = 1;
  assertEquals(classOf(withResponderSpi), "ike");
  const withMessageId = initRequest(1);
  withMessageId[23] = 1;
  assertEquals(classOf(withMessageId), "ike");
});

Deno.test("refuses a bound or budget that is not positive", () => {
  assertThrows(() => new IkeScheduler(() => {}, { limits: { initLimit: 0 } }), RangeError);
  assertThrows(() => new IkeScheduler(() => {}, { limits: { ikeBudget: -1 } }), RangeError);
});
