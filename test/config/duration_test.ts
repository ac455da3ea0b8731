import { assertEquals } from "../_assert.ts";
import { parseDuration } from "../../lib/config/duration.ts";

Deno.test("parses durations with and without a unit", () => {
  assertEquals(parseDuration("30s"), 30);
  assertEquals(parseDuration("5m"), 300);
  assertEquals(parseDuration("4h"), 14400);
  assertEquals(parseDuration("1d"), 86400);
  assertEquals(parseDuration("90"), 90);
  assertEquals(parseDuration("0"), 0);
  assertEquals(parseDuration("365d"), 365 * 86400);
});

Deno.test("rejects malformed and oversized durations", () => {
  for (const bad of ["", "-5s", "1.5h", "4 h", "4H", "1w", "05m", "h"]) {
    assertEquals(typeof parseDuration(bad), "string", bad);
  }
  assertEquals(parseDuration("366d"), 'duration "366d" is longer than the maximum of 365d');
});
