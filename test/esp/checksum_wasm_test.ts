import wabt from "wabt";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { foldSum, sumWords } from "../../lib/esp/_checksum.ts";
import {
  CHECKSUM_WASM_BASE64,
  ChecksumMemory,
  checksumMemory,
  useChecksumMemory,
} from "../../lib/esp/_checksum_wasm.ts";
import { GroCoalescer } from "../../lib/esp/gro_coalesce.ts";
import { GsoSplitter } from "../../lib/esp/gso_split.ts";
import { PacketBatch } from "../../lib/net/mod.ts";
import {
  ACK,
  payloadBytes,
  superFrame,
  type TcpSpec,
  transportChecksumOk,
} from "./_offload_packets.ts";

/** Equal as one's complement sums (0 and 0xffff are the same number). */
function sameSum(a: number, b: number): boolean {
  return foldSum(a) % 0xffff === foldSum(b) % 0xffff;
}

/** A memory registered for the test's duration (sumWords then takes the Wasm path for it). */
function withMemory(bytes: number, body: (memory: ChecksumMemory) => void): void {
  const memory = ChecksumMemory.create(bytes);
  assert(memory !== null, "WebAssembly with SIMD is available in Deno");
  useChecksumMemory(memory);
  try {
    body(memory);
  } finally {
    useChecksumMemory(null);
  }
}

Deno.test("the embedded checksum module is checksum.wat assembled", async () => {
  const source = await Deno.readTextFile(new URL("../../lib/esp/checksum.wat", import.meta.url));
  const assembler = await wabt();
  const module = assembler.parseWat("checksum.wat", source, {
    simd: true,
    bulk_memory: true,
  });
  try {
    module.validate();
    const { buffer } = module.toBinary({});
    let text = "";
    for (const byte of buffer) text += String.fromCharCode(byte);
    assertEquals(btoa(text), CHECKSUM_WASM_BASE64, "re-assemble and update _checksum_wasm.ts");
  } finally {
    module.destroy();
  }
});

Deno.test("the Wasm sum equals the JavaScript sum at any offset and length", () => {
  const size = 3 * 65536;
  const plain = new Uint8Array(size);
  withMemory(size, (memory) => {
    const fast = memory.alloc(size);
    const fill = (f: (i: number) => number) => {
      for (let i = 0; i < size; i++) fast[i] = plain[i] = f(i);
    };
    const cases: [number, number][] = [[0, 0], [0, 1], [1, 1], [3, 17], [0, 31], [0, 32]];
    for (let i = 0; i < 400; i++) {
      const start = Math.floor(Math.random() * 4096);
      cases.push([start, start + Math.floor(Math.random() * 70000)]);
    }
    // Past one 64 KiB block of the vector loop, and the largest packet.
    cases.push([5, 5 + 65536 + 33], [0, 2 * 65536 + 16], [1, 1 + 65535]);
    for (const pattern of [(i: number) => (i * 7919) & 0xff, () => 0xff, () => 0]) {
      fill(pattern);
      for (const [start, end] of cases) {
        const expected = sumWords(plain, start, end); // not in the memory: JavaScript
        const actual = sumWords(fast, start, end); // in the memory: Wasm
        assert(sameSum(actual, expected), `sum of [${start}, ${end})`);
        if (end - start >= 32) { // shorter runs stay in the JavaScript byte loop
          const direct = memory.sumLittleEndian(fast, start, end);
          assertEquals(actual, ((direct & 0xff) << 8) | (direct >>> 8), "took the Wasm path");
        }
      }
    }
    // Views that start inside the memory at odd offsets.
    fill(() => Math.floor(Math.random() * 256));
    for (let offset = 0; offset < 8; offset++) {
      const view = fast.subarray(offset, offset + 1500);
      const copy = plain.subarray(offset, offset + 1500);
      assert(sameSum(sumWords(view, 1, 1441), sumWords(copy, 1, 1441)), `view at ${offset}`);
    }
  });
  assertEquals(checksumMemory(), null, "unregistered after the test");
});

Deno.test("packet memory hands out aligned, zeroed, disjoint views and refuses overflow", () => {
  const memory = ChecksumMemory.create(100_000);
  assert(memory !== null);
  assertEquals(memory.buffer.byteLength, 2 * 65536, "rounded up to whole pages");
  const a = memory.alloc(100);
  const b = memory.alloc(1000);
  assertEquals(a.byteOffset % 64, 0);
  assertEquals(b.byteOffset % 64, 0);
  assert(b.byteOffset >= a.byteOffset + 100, "disjoint");
  assert(b.every((x) => x === 0), "zeroed");
  assertThrows(() => memory.alloc(memory.free + 1), RangeError, "packet memory");
  assertThrows(() => memory.alloc(-1), RangeError);
  assertEquals(ChecksumMemory.create(0), null);
});

Deno.test("a packet batch can live in packet memory, and refuses a wrong size", () => {
  const memory = ChecksumMemory.create(8 * 2048);
  assert(memory !== null);
  const data = memory.alloc(8 * 2048);
  const batch = new PacketBatch({ count: 8, slotSize: 2048, data });
  assert(batch.slots[3]!.buffer === memory.buffer, "slots are views of the memory");
  assertEquals(batch.slots[3]!.byteOffset, data.byteOffset + 3 * 2048);
  assertThrows(
    () => new PacketBatch({ count: 8, slotSize: 1024, data }),
    RangeError,
    "expected 8 × 1024",
  );
});

Deno.test("GSO split into packet memory and GRO coalescing from it keep checksums right", () => {
  withMemory(4 << 20, (memory) => {
    const spec: TcpSpec = { payload: payloadBytes(30 * 1360 + 77), flags: ACK };
    const splitter = new GsoSplitter();
    const segments = Array.from({ length: 64 }, () => memory.alloc(2048));
    const lengths = new Uint32Array(64);
    const n = splitter.split(superFrame(spec, 1360), { segments, lengths });
    assertEquals(n, 31);
    const packets: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const segment = segments[i]!.subarray(0, lengths[i]);
      assert(transportChecksumOk(segment.slice()), `segment ${i} checksum (checked in JS)`);
      packets.push(segment);
    }
    // Decrypted packets sit in the receive batch (packet memory): all verify and merge.
    const coalescer = new GroCoalescer({ maxPackets: 64, maxPacketLength: 2048 });
    assertEquals(coalescer.coalesce(packets, n), 1, "one super frame");
    assertEquals(coalescer.counters.get("coalescedPackets"), 31);
    // A corrupted segment is caught on the Wasm path and written singly.
    packets[7]![100]! ^= 0x40;
    assertEquals(coalescer.coalesce(packets, n), 3, "before, the bad one, after");
    assertEquals(coalescer.counters.get("checksumInvalid"), 1);
  });
});

Deno.test("copy and copyAndSum move the bytes and sum them like sum, at any offset and length", () => {
  withMemory(5 * 65536, (memory) => {
    const area = memory.alloc(4 * 65536);
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < area.length; i++) area[i] = next() & 0xff;
    const lengths = [0, 1, 2, 15, 16, 17, 31, 64, 1398, 1399, 9000, 65535, 65536, 70001];
    for (let round = 0; round < 300; round++) {
      const length = round < lengths.length ? lengths[round]! : next() % 20000;
      // Sources in [0, 102769), destinations in [110000, 212769): never overlapping.
      const src = next() % 32768;
      const dst = 110000 + (next() % 32768);
      const expected = area.slice(src, src + length);
      const sum = memory.copyAndSum(area, dst, area, src, length);
      assertEquals(area.subarray(dst, dst + length), expected, `round ${round}: bytes`);
      const reference = memory.sumLittleEndian(area, dst, dst + length);
      assert(sameSum(sum, reference), `round ${round} (${length} bytes): ${sum} vs ${reference}`);
    }
    // copy allows overlap (memmove).
    const before = area.slice(100, 1100);
    memory.copy(area, 150, area, 100, 1000);
    assertEquals(area.subarray(150, 1150), before);
  });
});

Deno.test("split from a frame in packet memory and coalescing into an arena there: same bytes as plain buffers", () => {
  withMemory(8 << 20, (memory) => {
    for (const v6 of [false, true]) {
      const spec: TcpSpec = { v6, payload: payloadBytes(40 * 1398 + 123), flags: ACK };
      const plainFrame = superFrame(spec, 1398);
      const fastFrame = memory.alloc(plainFrame.length);
      fastFrame.set(plainFrame);
      const split = (frame: Uint8Array, segments: Uint8Array[]) => {
        const lengths = new Uint32Array(64);
        const n = new GsoSplitter().split(frame, { segments, lengths });
        return Array.from({ length: n }, (_, i) => segments[i]!.subarray(0, lengths[i]));
      };
      const plain = split(plainFrame, Array.from({ length: 64 }, () => new Uint8Array(2048)));
      const fast = split(fastFrame, Array.from({ length: 64 }, () => memory.alloc(2048)));
      assertEquals(fast.length, 41);
      assertEquals(fast, plain, `${v6 ? "IPv6" : "IPv4"}: segments`);
      for (const segment of fast) assert(transportChecksumOk(segment.slice()));
      const frames = (arena?: Uint8Array) => {
        const coalescer = new GroCoalescer({
          maxPackets: 64,
          maxPacketLength: 2048,
          ...(arena ? { arena } : {}),
        });
        const count = coalescer.coalesce(fast, fast.length);
        return Array.from({ length: count }, (_, i) => coalescer.frame(i).slice());
      };
      const fromArena = frames(memory.alloc(64 * 2060));
      assertEquals(fromArena.length, 1);
      assertEquals(fromArena, frames(), `${v6 ? "IPv6" : "IPv4"}: coalesced frame`);
    }
  });
  assertThrows(
    () => new GroCoalescer({ maxPackets: 64, maxPacketLength: 2048, arena: new Uint8Array(10) }),
    RangeError,
    "arena",
  );
});
