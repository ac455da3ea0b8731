/**
 * Admission of new IKE_SA_INIT requests: the token buckets, the decision order, and the engine
 * under a flood — above `initRateLimit` a request must return a COOKIE, above `cookieRateLimit`
 * it is dropped, at `halfOpenLimit` even a valid cookie is refused, and established SAs are
 * never limited. The rate limits run on a fake clock.
 */
import { assert, assertEquals } from "../_assert.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { InitAdmission, TokenBucket } from "../../lib/ike/admission.ts";
import type { IkeEngineEvent, IkeEngineOptions } from "../../lib/ike/engine.ts";
import { IkeSaState } from "../../lib/ike/ike_sa.ts";
import { decodeMessage } from "../../lib/ike/payloads/mod.ts";
import { PayloadType } from "../../lib/ike/constants.ts";
import {
  authConfig,
  closeAll,
  cookieOf,
  gatewayPair,
  initRequest,
  nextEvent,
  realm,
  type Side,
  side,
  Wire,
} from "./_engine_fixture.ts";

const FLOOD_ADDRESS = "203.0.113.50";

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const restore = setLogSinks([]);
  try {
    return await fn();
  } finally {
    setLogSinks(restore);
  }
}

/** Records what the engine sends to {@link FLOOD_ADDRESS}. */
function floodReplies(wire: Wire): Uint8Array[] {
  const replies: Uint8Array[] = [];
  wire.engines.set(FLOOD_ADDRESS, {
    handleDatagram: (bytes: Uint8Array) => {
      replies.push(bytes);
      return Promise.resolve();
    },
  } as never);
  return replies;
}

/** Sends `count` distinct IKE_SA_INIT requests from many source ports of the flood address. */
async function flood(target: Side, wire: Wire, first: number, count: number): Promise<void> {
  for (let i = first; i < first + count; i++) {
    await target.engine.handleDatagram(
      initRequest(i),
      { address: FLOOD_ADDRESS, port: 10_000 + (i % 50_000) },
      500,
    );
  }
  await Promise.all(wire.pending);
}

/** A responder alone on the wire (the flood has no engine of its own). */
function responder(wire: Wire, engine: Partial<IkeEngineOptions>): Side {
  return side(
    wire,
    "198.51.100.2",
    [realm({
      local: ["10.2.0.0/24"],
      remote: ["10.1.0.0/24"],
      localId: "fqdn:b.example.com",
      peers: [{ id: "fqdn:a.example.com" }],
    })],
    authConfig(1, "fqdn:b.example.com", { "fqdn:a.example.com": "a-long-enough-test-psk-01" }),
    { engine },
  );
}

async function deleteAll(s: Side): Promise<void> {
  for (const sa of s.engine.list()) await s.engine.deleteSa(sa);
}

/** Full IKE_SA_INIT responses (with an SA payload): the requests that created state. */
function fullResponses(replies: Uint8Array[]): number {
  return replies.filter((r) =>
    decodeMessage(r).payloads.some((p) => p.type === PayloadType.SecurityAssociation)
  ).length;
}

function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (predicate()) resolve();
      else if (Date.now() > end) reject(new Error("condition not reached in time"));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

function waitFor(side: Side, type: IkeEngineEvent["type"], ms = 5000): Promise<IkeEngineEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${ms} ms`));
    }, ms);
    const off = side.engine.on((e) => {
      if (e.type === type) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

Deno.test("a token bucket gives its burst at once and refills at its rate", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(4, { now: clock.now });
  assertEquals([1, 2, 3, 4, 5].map(() => bucket.take()), [true, true, true, true, false]);
  clock.advance(250);
  assertEquals([bucket.take(), bucket.take()], [true, false], "one token per 250 ms");
  clock.advance(10_000);
  assertEquals([1, 2, 3, 4, 5].map(() => bucket.take()).filter(Boolean).length, 4, "capped");
  clock.advance(-5_000); // a clock that goes back adds nothing
  assertEquals(bucket.take(), false);
});

Deno.test("admission decides: half-open limit, valid cookie, threshold and rate, COOKIE rate", () => {
  const clock = fakeClock();
  const admission = new InitAdmission({
    cookieThreshold: 3,
    initRateLimit: 2,
    cookieRateLimit: 2,
    halfOpenLimit: 5,
  }, { now: clock.now });
  assertEquals(admission.decide(5, "valid"), { action: "drop", reason: "half_open_limit" });
  assertEquals(admission.decide(4, "valid"), { action: "process", reason: "cookie" });
  assertEquals(admission.decide(3, "none"), { action: "cookie", reason: "threshold" });
  assertEquals(admission.decide(0, "none"), { action: "process", reason: "below_threshold" });
  assertEquals(admission.decide(1, "invalid"), { action: "process", reason: "below_threshold" });
  assertEquals(admission.decide(2, "none"), { action: "cookie", reason: "rate" });
  assertEquals(admission.decide(2, "none"), { action: "drop", reason: "cookie_rate" });
  assertEquals(admission.decide(2, "valid"), { action: "process", reason: "cookie" });
  clock.advance(500);
  assertEquals(admission.decide(2, "none"), { action: "process", reason: "below_threshold" });
  assertEquals(admission.decide(2, "none"), { action: "cookie", reason: "rate" });
});

Deno.test("IKE_SA_INITs above init_rate_limit get COOKIEs and create no state until the rate refills", () =>
  quietly(async () => {
    const clock = fakeClock();
    const wire = new Wire();
    const replies = floodReplies(wire);
    const b = responder(wire, {
      initRateLimit: 5,
      cookieThreshold: 100,
      halfOpenLimit: 200,
      now: clock.now,
    });
    await flood(b, wire, 0, 50);
    assertEquals(b.engine.halfOpenCount, 5, "only the rate's burst created state");
    assertEquals(b.engine.list().length, 5);
    assertEquals(b.engine.counters.get("initOverRate"), 45);
    assertEquals(b.engine.counters.get("cookiesSent"), 45);
    assertEquals(replies.filter((r) => cookieOf(r) !== undefined).length, 45);
    assertEquals(fullResponses(replies), 5, "DH work only for the admitted five");

    clock.advance(1_000);
    await flood(b, wire, 50, 50);
    assertEquals(b.engine.halfOpenCount, 10, "one more second, five more");
    assertEquals(b.engine.counters.get("initOverRate"), 90);
    assertEquals(b.engine.counters.get("halfOpenPeak"), 10);
    assertEquals(b.engine.counters.get("cookiesDropped"), 0);
    await deleteAll(b);
  }));

Deno.test("COOKIE answers above cookie_rate_limit are dropped unanswered, counted, and keep no state", () =>
  quietly(async () => {
    const clock = fakeClock();
    const wire = new Wire();
    const replies = floodReplies(wire);
    const b = responder(wire, { cookieThreshold: 0, cookieRateLimit: 10, now: clock.now });
    await flood(b, wire, 0, 100);
    assertEquals(b.engine.list().length, 0);
    assertEquals(replies.length, 10);
    assertEquals(b.engine.counters.get("cookiesSent"), 10);
    assertEquals(b.engine.counters.get("cookiesDropped"), 90);
    assertEquals(b.engine.counters.get("halfOpenPeak"), 0);
  }));

Deno.test("a real initiator that returns the COOKIE gets in while the rate is used up", () =>
  quietly(async () => {
    const clock = fakeClock();
    const { wire, a, b } = gatewayPair({
      engineB: { initRateLimit: 2, cookieThreshold: 100, halfOpenLimit: 200, now: clock.now },
    });
    floodReplies(wire);
    await flood(b, wire, 0, 30);
    assertEquals(b.engine.halfOpenCount, 2);
    const up = nextEvent(a.engine, "established");
    a.engine.initiate(1);
    await up;
    assertEquals(b.engine.counters.get("cookiesAccepted"), 1, "it was processed on its cookie");
    assertEquals(b.engine.counters.get("initOverRate"), 29, "28 flood requests and the real one");
    await closeAll(a, b);
    await deleteAll(b);
  }));

Deno.test("at half_open_limit a new IKE_SA_INIT is dropped even with a valid COOKIE", () =>
  quietly(async () => {
    const wire = new Wire();
    const replies = floodReplies(wire);
    const b = responder(wire, { cookieThreshold: 0, halfOpenLimit: 1 });
    const from = { address: FLOOD_ADDRESS, port: 20_000 };
    await b.engine.handleDatagram(initRequest(1), from, 500);
    const cookie = cookieOf(replies[0]!);
    assert(cookie !== undefined, "the first answer is a COOKIE");
    await b.engine.handleDatagram(initRequest(1, cookie), from, 500);
    await Promise.all(wire.pending);
    assertEquals(b.engine.halfOpenCount, 1, "the request with its cookie was processed");
    assertEquals(b.engine.counters.get("cookiesAccepted"), 1);

    const other = { address: FLOOD_ADDRESS, port: 20_001 };
    await b.engine.handleDatagram(initRequest(2), other, 500);
    await Promise.all(wire.pending);
    assertEquals(replies.length, 2, "no answer at the limit");
    assertEquals(b.engine.counters.get("halfOpenLimited"), 1);
    assertEquals(b.engine.halfOpenCount, 1);
    await deleteAll(b);
  }));

Deno.test("established SAs are never limited: rekeys, liveness checks and deletes pass a flood", () =>
  quietly(async () => {
    const clock = fakeClock();
    const { wire, a, b } = gatewayPair({
      lifecycleA: { dpdSeconds: 1 },
      engineB: { initRateLimit: 1, cookieRateLimit: 1, now: clock.now },
    });
    floodReplies(wire);
    const upB = nextEvent(b.engine, "established");
    const saA = a.engine.initiate(1);
    await upB;
    await until(() => saA.state === IkeSaState.Established && saA.children.length === 1);

    // The clock stands still: after this flood no token is left in either bucket.
    await flood(b, wire, 0, 40);
    assertEquals(b.engine.counters.get("cookiesDropped"), 39);
    assertEquals(b.engine.halfOpenCount, 0);

    a.engine.rekeyChildSa(saA, saA.children[0]!);
    await until(() => a.installer.removed.length === 1 && b.installer.removed.length === 1);
    const rekeyed = waitFor(b, "rekeyed");
    a.engine.rekeyIkeSa(saA);
    await rekeyed;
    await until(() => a.engine.list().length === 1 && b.engine.list().length === 1);
    const [fresh] = a.engine.list();
    await until(() => a.engine.counters.get("livenessChecks") >= 1, 4000);
    await until(() => !fresh!.rekeying && a.engine.list().length === 1, 2000);
    assertEquals(fresh!.state, IkeSaState.Established, "the liveness check was answered");
    assertEquals(a.engine.counters.get("deadPeers"), 0);

    const gone = nextEvent(b.engine, "destroyed");
    await a.engine.deleteSa(fresh!);
    await gone;
    assertEquals(b.engine.list().length, 0, "the delete was heard");
    assertEquals(b.engine.counters.get("rxUnknownSpi"), 0);
    assertEquals(b.engine.counters.get("cookiesDropped"), 39, "nothing else was refused");
    await closeAll(a, b);
  }));
