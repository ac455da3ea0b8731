import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { ReplayWindow } from "../../lib/esp/mod.ts";

function accept(w: ReplayWindow, seq: number): boolean {
  if (!w.check(seq)) return false;
  return w.update(seq);
}

Deno.test("accepts increasing sequence numbers and rejects their repeats", () => {
  const w = new ReplayWindow(64);
  for (let s = 1; s <= 500; s++) assert(accept(w, s), `seq ${s}`);
  assertEquals(w.highest, 500);
  for (let s = 500 - 63; s <= 500; s++) assert(!w.check(s), `repeat ${s}`);
});

Deno.test("rejects sequence number 0", () => {
  const w = new ReplayWindow(32);
  assert(!w.check(0));
  assert(!w.update(0));
});

Deno.test("accepts out-of-order packets inside the window exactly once", () => {
  const w = new ReplayWindow(128);
  assert(accept(w, 200));
  const order = [150, 73, 199, 100, 180, 74];
  for (const s of order) assert(accept(w, s), `first ${s}`);
  for (const s of order) assert(!accept(w, s), `duplicate ${s}`);
  assert(accept(w, 75));
  assertEquals(w.highest, 200);
});

Deno.test("rejects packets older than the window and accepts the oldest inside", () => {
  const w = new ReplayWindow(64);
  assert(accept(w, 1000));
  assert(!w.check(1000 - 64), "exactly one window behind");
  assert(!w.check(1));
  assert(w.check(1000 - 63), "oldest inside the window");
});

Deno.test("slides across word boundaries without forgetting in-window bits", () => {
  const w = new ReplayWindow(64);
  // Receive every odd number, then slide one at a time across several 32-bit words.
  for (let s = 1; s <= 301; s += 2) assert(accept(w, s));
  for (let s = 301 - 63; s <= 301; s++) {
    assertEquals(w.check(s), s % 2 === 0, `seq ${s}`);
  }
  // Fill the gaps in window: now everything within is a duplicate.
  for (let s = 301 - 63; s <= 301; s++) if (s % 2 === 0) assert(accept(w, s));
  for (let s = 301 - 63; s <= 301; s++) assert(!w.check(s));
  // Move by 31, 32, 33: words are cleared as the window advances.
  for (const step of [31, 32, 33]) {
    const top = w.highest + step;
    assert(accept(w, top));
    for (let s = top - step + 1; s < top; s++) assert(w.check(s), `new gap ${s}`);
  }
});

Deno.test("a large jump clears the whole window", () => {
  const w = new ReplayWindow(1024);
  for (let s = 1; s <= 2000; s++) accept(w, s);
  assert(accept(w, 1_000_000));
  assert(!w.check(1_000_000 - 1024));
  for (let s = 1_000_000 - 1023; s < 1_000_000; s++) assert(w.check(s), `seq ${s}`);
  assert(accept(w, 999_000));
  assert(!w.check(999_000));
});

Deno.test("handles the top of the 32-bit space", () => {
  const w = new ReplayWindow(32);
  assert(accept(w, 0xffff_fff0));
  assert(accept(w, 0xffff_ffff));
  assert(!w.check(0xffff_ffff));
  assert(accept(w, 0xffff_fff5));
  assert(!w.check(0xffff_fff0));
});

Deno.test("update without a prior check refuses duplicates and leaves the window alone", () => {
  const w = new ReplayWindow(32);
  assert(w.update(10));
  assert(!w.update(10));
  assertEquals(w.highest, 10);
});

Deno.test("check never moves the window (forged packets cannot shift it)", () => {
  const w = new ReplayWindow(32);
  accept(w, 5);
  assert(w.check(1_000_000));
  assertEquals(w.highest, 5);
  assert(w.check(4));
});

Deno.test("supports every window size multiple of 32 up to 4096", () => {
  for (const size of [32, 64, 96, 1024, 4064, 4096]) {
    const w = new ReplayWindow(size);
    accept(w, size * 3);
    assert(w.check(size * 3 - size + 1), `${size}: oldest inside`);
    assert(!w.check(size * 2), `${size}: just outside`);
  }
});

Deno.test("rejects window sizes outside 32..4096 or not a multiple of 32", () => {
  for (const bad of [0, 16, 31, 33, 100, 4097, 8192, 1.5]) {
    assertThrows(() => new ReplayWindow(bad), RangeError, "Cannot create replay window");
  }
});

Deno.test("infers the high half of an extended sequence number (RFC 4303 A2.2)", () => {
  const w = new ReplayWindow(64);
  // Case A: window inside one subspace.
  accept(w, 2 ** 32 + 1000);
  assertEquals(w.inferEsn(1010), 2 ** 32 + 1010);
  assertEquals(w.inferEsn(990), 2 ** 32 + 990);
  assertEquals(w.inferEsn(10), 2 * 2 ** 32 + 10, "below the window: next subspace");
  // Case B: window spans the subspace boundary.
  const v = new ReplayWindow(64);
  accept(v, 2 ** 32 + 10);
  assertEquals(v.inferEsn(0xffff_fff0), 0xffff_fff0, "previous subspace");
  assertEquals(v.inferEsn(12), 2 ** 32 + 12);
  // ESN sequence numbers above 2^32 work in check/update.
  assert(accept(v, 2 ** 32 + 12));
  assert(!v.check(2 ** 32 + 12));
});

Deno.test("reset forgets all state", () => {
  const w = new ReplayWindow(32);
  accept(w, 7);
  w.reset();
  assertEquals(w.highest, 0);
  assert(accept(w, 7));
});

Deno.test("publishes its highest sequence number and a new window on the word resumes from it", () => {
  const published = { words: new Uint32Array(new SharedArrayBuffer(8)), index: 0 };
  const first = new ReplayWindow(64, published);
  for (const s of [1, 2, 5, 9, 7]) assert(accept(first, s), `seq ${s}`);
  assertEquals(published.words[0], 9, "the highest, not the last");
  // A restarted worker: nothing it may have accepted passes, later numbers do.
  const resumed = new ReplayWindow(64, published);
  assertEquals(resumed.highest, 9);
  for (let s = 1; s <= 9; s++) assert(!resumed.check(s), `seq ${s} is a replay`);
  assert(accept(resumed, 10));
  assertEquals(published.words[0], 10);
  // A fresh word (a new SA) starts an ordinary window.
  const fresh = new ReplayWindow(64, { words: new Uint32Array(1), index: 0 });
  assert(accept(fresh, 1));
});
