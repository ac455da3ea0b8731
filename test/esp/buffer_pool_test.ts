import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { BufferPool } from "../../lib/esp/mod.ts";

Deno.test("buffer pool hands out each buffer once until released", async () => {
  const pool = new BufferPool({ count: 2, size: 64, headroom: 8 });
  const a = pool.acquire()!;
  const b = pool.acquire()!;
  assert(a !== b);
  assertEquals(pool.acquire(), undefined);
  assertEquals(a.payload.length, 56);
  assertEquals(a.payload.byteOffset, 8);
  let woke = false;
  const waiting = pool.waitAvailable().then(() => (woke = true));
  await Promise.resolve();
  assert(!woke);
  a.release();
  await waiting;
  assert(woke);
  assertEquals(pool.available, 1);
  assertThrows(() => a.release(), RangeError, "already in the pool");
  const errors: unknown[] = [];
  const p2 = new BufferPool({ count: 1, size: 16, onError: (e) => errors.push(e) });
  const c = p2.acquire()!;
  c.fail("boom");
  assertEquals(errors, ["boom"]);
  assertEquals(p2.available, 1);
  b.release();
});

Deno.test("buffer pool rejects impossible sizes", () => {
  assertThrows(() => new BufferPool({ count: 0, size: 64 }), RangeError);
  assertThrows(() => new BufferPool({ count: 1, size: 8, headroom: 8 }), RangeError);
});
