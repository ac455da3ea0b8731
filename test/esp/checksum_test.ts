import { assertEquals } from "../_assert.ts";
import { foldSum, sumWords } from "../../lib/esp/_checksum.ts";
import { naiveChecksum, payloadBytes } from "./_offload_packets.ts";

Deno.test("sums 16-bit words right at every alignment, length and start parity", () => {
  const backing = payloadBytes(5000, 11);
  for (let offset = 0; offset < 8; offset++) {
    const view = backing.subarray(offset);
    for (const start of [0, 1, 2, 3, 5, 20, 41]) {
      for (const length of [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 1447, 1448, 4000]) {
        const expected = 0xffff - naiveChecksum(view.subarray(start, start + length));
        const actual = foldSum(sumWords(view, start, start + length));
        // 0 and 0xffff are the same one's complement value.
        assertEquals(
          actual % 0xffff,
          expected % 0xffff,
          `offset ${offset} start ${start} length ${length}`,
        );
      }
    }
  }
});
