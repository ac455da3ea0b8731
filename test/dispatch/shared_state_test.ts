/**
 * State shared by the main thread and the data-plane workers: outbound sequence numbers claimed
 * concurrently by several threads stay unique and never pass 2^32-1; counters written by each
 * worker into its own slice add up in the main thread's view.
 */
import { assert, assertEquals } from "../_assert.ts";
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import { ESP_SEQUENCE_MAX, EspSa } from "../../lib/esp/mod.ts";
import {
  createRealmShared,
  createSaShared,
  sequenceSlotOf,
  summedRealmCounters,
  summedSaCounters,
  workerRealmCounters,
  workerSaCounters,
} from "../../lib/dispatch/shared_state.ts";

const KEY = new Uint8Array(36).fill(7);

function mainSa(shared: SharedArrayBuffer): EspSa {
  return new EspSa({
    spi: 0x1000,
    direction: "out",
    encryption: "aes-gcm-16",
    integrity: "none",
    encryptionKey: KEY,
    encapsulation: null,
    peerAddress: "198.51.100.2",
    crypto: new LibcryptoProvider(),
    sequence: sequenceSlotOf(shared),
    counters: summedSaCounters(shared, 2),
  });
}

/** Claims `count` numbers in each of `threads` workers at once; returns all of them. */
async function claimInWorkers(
  shared: SharedArrayBuffer,
  threads: number,
  count: number,
): Promise<Uint32Array> {
  const results = new SharedArrayBuffer(threads * count * 4);
  await Promise.all(
    Array.from({ length: threads }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(new URL("./_sequence_worker.ts", import.meta.url), {
          type: "module",
        });
        worker.onmessage = () => {
          worker.terminate();
          resolve();
        };
        worker.onerror = (e) => {
          e.preventDefault();
          worker.terminate();
          reject(new Error(e.message));
        };
        worker.postMessage({ shared, key: KEY, count, results, offset: i * count });
      })),
  );
  return new Uint32Array(results);
}

Deno.test("sequence numbers claimed by several workers at once are unique and contiguous", async () => {
  const shared = createSaShared(2);
  const count = 200_000;
  const numbers = await claimInWorkers(shared, 3, count);
  const seen = new Uint8Array(3 * count + 1);
  for (const n of numbers) {
    assert(n >= 1 && n <= 3 * count, `number ${n} out of range`);
    assertEquals(seen[n], 0, `number ${n} handed out twice`);
    seen[n] = 1;
  }
  const sa = mainSa(shared);
  assertEquals(sa.lastSequence, 3 * count, "the main thread's copy sees the last number");
  assertEquals(sa.nextSequence(), 3 * count + 1);
  sa.dispose();
});

Deno.test("a shared sequence counter stops at 2^32-1 in every thread and never wraps", async () => {
  const shared = createSaShared(2);
  const sa = mainSa(shared);
  sa.skipSequenceTo(ESP_SEQUENCE_MAX - 5);
  const numbers = await claimInWorkers(shared, 2, 10);
  const given = [...numbers].filter((n) => n !== 0).sort((a, b) => a - b);
  assertEquals(given, [1, 2, 3, 4, 5].map((i) => ESP_SEQUENCE_MAX - 5 + i));
  assertEquals(numbers.filter((n) => n === 0).length, 15, "exhausted: 0 (SequenceExhausted)");
  assert(sa.sequenceExhausted);
  assertEquals(sa.nextSequence(), 0);
  assertEquals(sa.lastSequence, ESP_SEQUENCE_MAX);
  sa.dispose();
});

Deno.test("counters written by each worker into its own slice add up in the main view", () => {
  const shared = createSaShared(2);
  workerSaCounters(shared, 0).add("packets", 3);
  workerSaCounters(shared, 1).add("packets", 4);
  workerSaCounters(shared, 1).add("bytes", 1000);
  const view = summedSaCounters(shared, 2);
  assertEquals(view.get("packets"), 7);
  assertEquals(view.snapshot().bytes, 1000);
  view.add("dropAuth");
  assertEquals(view.get("dropAuth"), 1, "the main thread adds to its own slice");
  assertEquals(workerSaCounters(shared, 0).get("dropAuth"), 0);

  const realm = createRealmShared(2);
  workerRealmCounters(realm, 0).outbound.add("txPackets", 2);
  workerRealmCounters(realm, 1).inbound.add("rxPackets", 5);
  const summed = summedRealmCounters(realm, 2);
  assertEquals(summed.outbound.get("txPackets"), 2);
  assertEquals(summed.inbound.get("rxPackets"), 5);
  assertEquals(summed.outbound.get("rxPackets"), 0, "outbound and inbound do not overlap");
});
