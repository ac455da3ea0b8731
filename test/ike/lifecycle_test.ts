/**
 * CREATE_CHILD_SA and INFORMATIONAL lifecycle between two engines: child and IKE SA rekeys in
 * both directions (with and without PFS), make-before-break, lifetimes and liveness checks.
 */
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { IkeSaState } from "../../lib/ike/ike_sa.ts";
import type { IkeEngine, IkeEngineEvent } from "../../lib/ike/engine.ts";
import { toHex } from "../../lib/wire/mod.ts";
import { closeAll, gatewayPair, nextEvent } from "./_engine_fixture.ts";

async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    return await fn(lines);
  } finally {
    setLogSinks(prev);
  }
}

function waitFor(
  engine: IkeEngine,
  type: IkeEngineEvent["type"],
  ms = 5000,
): Promise<IkeEngineEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${ms} ms`));
    }, ms);
    const off = engine.on((e) => {
      if (e.type === type) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

/** Resolves once `predicate` holds, polling every 10 ms. */
async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const pfs of [false, true]) {
  for (const side of ["initiator", "responder"] as const) {
    Deno.test(`rekeys a child SA from the ${side}${pfs ? " with PFS" : ""}, new pair before old delete`, () =>
      withLogs(async () => {
        const { a, b } = gatewayPair({ lifecycleA: { pfs }, lifecycleB: { pfs } });
        const upB = nextEvent(b.engine, "established");
        const upA = nextEvent(a.engine, "established");
        const saA = a.engine.initiate(1);
        const saB = await upB;
        await upA;
        await until(() => saA.children.length === 1 && saB.children.length === 1);
        const [oldA] = saA.children;
        const [oldB] = saB.children;
        const [rekeyer, other, oldOwn] = side === "initiator"
          ? [a, b, oldA!] as const
          : [b, a, oldB!] as const;
        const rekeySa = side === "initiator" ? saA : saB;
        rekeyer.engine.rekeyChildSa(rekeySa, oldOwn);
        await until(() =>
          a.installer.installed.length === 2 && b.installer.installed.length === 2 &&
          a.installer.removed.length === 1 && b.installer.removed.length === 1
        );
        // The new pair was installed before the old one was removed, on both sides.
        assertEquals(a.installer.removed[0]!.spiIn, oldA!.spiIn);
        assertEquals(b.installer.removed[0]!.spiIn, oldB!.spiIn);
        const newA = a.installer.installed[1]!;
        const newB = b.installer.installed[1]!;
        assertEquals(newA.record.spiOut, newB.record.spiIn);
        assertEquals(newB.record.spiOut, newA.record.spiIn);
        assertEquals(toHex(newA.outbound.encryptionKey), toHex(newB.inbound.encryptionKey));
        assertNotEquals(
          toHex(newA.outbound.encryptionKey),
          toHex(a.installer.installed[0]!.outbound.encryptionKey),
        );
        assertEquals(saA.children.length, 1);
        assertEquals(saB.children.length, 1);
        assertEquals(rekeyer.engine.counters.get("childRekeys"), 1);
        assertEquals(other.engine.list().length, 1);
        await closeAll(a, b);
      }));
  }
}

for (const side of ["initiator", "responder"] as const) {
  Deno.test(`rekeys the IKE SA from the ${side}; children move, the old SA goes`, () =>
    withLogs(async () => {
      const { a, b } = gatewayPair();
      const saA = a.engine.initiate(1);
      const saB = await nextEvent(b.engine, "established");
      await until(() => saA.state === IkeSaState.Established && saA.children.length === 1);
      const [rekeyer, other] = side === "initiator" ? [a, b] : [b, a];
      const old = side === "initiator" ? saA : saB;
      const rekeyedOther = waitFor(other.engine, "rekeyed");
      const rekeyed = waitFor(rekeyer.engine, "rekeyed");
      rekeyer.engine.rekeyIkeSa(old);
      const ev = await rekeyed;
      await rekeyedOther;
      assert(ev.type === "rekeyed");
      const fresh = ev.sa;
      assert(fresh.initiator, "the rekey initiator is the new SA's initiator");
      await until(() => a.engine.list().length === 1 && b.engine.list().length === 1);
      const [newA] = a.engine.list();
      const [newB] = b.engine.list();
      assertEquals(toHex(newA!.spiI), toHex(newB!.spiI));
      assertEquals(toHex(newA!.spiR), toHex(newB!.spiR));
      assertNotEquals(toHex(newA!.spiI), toHex(saA.spiI));
      assertEquals(newA!.children.length, 1, "children moved to the new IKE SA");
      assertEquals(newB!.children.length, 1);
      assertEquals(a.installer.removed.length, 0, "no ESP SA was removed");
      assertEquals(b.installer.removed.length, 0);
      // The new SA works: a child rekey through it completes.
      a.engine.rekeyChildSa(newA!, newA!.children[0]!);
      await until(() => a.installer.removed.length === 1 && b.installer.removed.length === 1);
      assertEquals(newA!.children.length, 1);
      await closeAll(a, b);
    }));
}

Deno.test("rekeys the child SA on its own when the soft lifetime runs out", () =>
  withLogs(async () => {
    const { a, b } = gatewayPair({ lifecycleA: { childRekeySeconds: 1 } });
    const sa = a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    await until(() => a.installer.removed.length === 1 && b.installer.removed.length === 1, 4000);
    assertEquals(sa.children.length, 1);
    assertEquals(a.installer.installed.length, 2);
    await closeAll(a, b);
  }));

Deno.test("detects a dead peer with a liveness check and clears the SA (dpd_action clear)", () =>
  withLogs(async (lines) => {
    const { wire, a, b } = gatewayPair({
      lifecycleA: {
        dpdSeconds: 1,
        dpdAction: "clear",
        retransmit: { initialTimeoutMs: 100, factor: 2, retries: 2 },
      },
    });
    a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    wire.drop = () => true; // the link goes down
    const t0 = Date.now();
    await nextEvent(a.engine, "destroyed", 5000);
    const took = Date.now() - t0;
    assert(took < 1000 + 700 + 1100, `detected in ${took} ms`);
    assertEquals(a.engine.counters.get("livenessChecks"), 1);
    assert(lines.some((l) => l.includes("did not answer INFORMATIONAL")), lines.join("\n"));
    assertEquals(a.engine.list().length, 0);
    assertEquals(a.engine.counters.get("deadPeers"), 1);
    wire.drop = () => false;
    await closeAll(a, b);
  }));

Deno.test("re-establishes after a dead peer comes back (dpd_action restart)", () =>
  withLogs(async () => {
    const { wire, a, b } = gatewayPair({
      lifecycleA: {
        dpdSeconds: 1,
        dpdAction: "restart",
        retransmit: { initialTimeoutMs: 100, factor: 2, retries: 2 },
      },
    });
    a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    wire.drop = () => true;
    await nextEvent(a.engine, "destroyed", 5000);
    wire.drop = () => false; // the link returns while the restart retransmits
    await nextEvent(a.engine, "established", 5000);
    assertEquals(a.engine.list().filter((s) => s.state === IkeSaState.Established).length, 1);
    await closeAll(a, b);
  }));

Deno.test("re-initiates a held peer only when traffic asks for it (dpd_action hold)", () =>
  withLogs(async () => {
    const { wire, a, b } = gatewayPair({
      lifecycleA: {
        dpdSeconds: 1,
        dpdAction: "hold",
        retransmit: { initialTimeoutMs: 100, factor: 2, retries: 2 },
      },
    });
    a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    wire.drop = () => true;
    await nextEvent(a.engine, "destroyed", 5000);
    wire.drop = () => false;
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(a.engine.list().length, 0, "nothing happens without traffic");
    const up = nextEvent(a.engine, "established");
    a.engine.acquire(1);
    await up;
    a.engine.acquire(1); // a second packet does not start a second SA
    assertEquals(a.engine.list().length, 1);
    await closeAll(a, b);
  }));

Deno.test("does not check liveness while the peer keeps talking", () =>
  withLogs(async () => {
    const { a, b } = gatewayPair({ lifecycleA: { dpdSeconds: 1 } });
    const sa = a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    // B's liveness checks (IKE traffic) reach A every 300 ms, so A never needs to ask.
    const saB = b.engine.list()[0]!;
    const timer = setInterval(() => b.engine.rekeyChildSa(saB, saB.children[0]!), 300);
    await new Promise((r) => setTimeout(r, 2500));
    clearInterval(timer);
    assertEquals(a.engine.counters.get("livenessChecks"), 0);
    assertEquals(sa.state, IkeSaState.Established);
    await closeAll(a, b);
  }));
