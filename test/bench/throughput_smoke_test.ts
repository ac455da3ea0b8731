/**
 * Smoke test of the throughput benchmark: the real code path (labs, tunnel proof, iperf3, CPU
 * sampling, report) with one round of 3 s on `veth` and `ours-aes256gcm`. It checks that every
 * figure is a positive finite number and that the JSON has the documented shape; it makes no
 * timing assertion. The report goes to a temp file so that test/artifacts/throughput.json keeps
 * the last full benchmark.
 */
import { assert, assertEquals } from "../_assert.ts";
import { requireRoot } from "../netns/harness.ts";
import {
  cpuPercent,
  formatTable,
  parseBenchArgs,
  parseProcStat,
  runBenchmark,
  spread,
  type ThroughputReport,
  writeReport,
} from "./throughput.ts";

const ROW_KEYS = [
  "cpu_pct",
  "name",
  "tcp1_max",
  "tcp1_mbps",
  "tcp1_min",
  "tcp4_max",
  "tcp4_mbps",
  "tcp4_min",
];

Deno.test("parseProcStat counts iowait as idle and ignores guest time", () => {
  const times = parseProcStat("cpu  100 10 50 800 40 0 0 0 30 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
  assertEquals(times, { busy: 160, total: 1000 });
  assertEquals(cpuPercent({ busy: 0, total: 0 }, times), 16);
});

Deno.test("spread gives median, min and max, averaging the middle two of an even count", () => {
  assertEquals(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assertEquals(spread([4, 1, 2, 10]), { median: 3, min: 1, max: 10 });
});

Deno.test("parseBenchArgs reads --rounds, --seconds, --only and rejects unknown paths", () => {
  assertEquals(parseBenchArgs([]), { rounds: 3, seconds: 10 });
  assertEquals(parseBenchArgs(["--rounds", "1", "--seconds=3", "--only", "veth,ours-aes256gcm"]), {
    rounds: 1,
    seconds: 3,
    only: ["veth", "ours-aes256gcm"],
  });
  let message = "";
  try {
    parseBenchArgs(["--only", "wireguard-go"]);
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  assert(message.startsWith("Cannot parse --only: unknown path wireguard-go"), message);
});

Deno.test({
  name: "the benchmark measures veth and ours-aes256gcm and writes a well-formed report",
  ignore: requireRoot(),
  fn: async () => {
    const report = await runBenchmark({
      rounds: 1,
      seconds: 3,
      only: ["veth", "ours-aes256gcm"],
    });
    const path = await Deno.makeTempFile({ prefix: "rht-throughput-", suffix: ".json" });
    try {
      await writeReport(report, path);
      const parsed = JSON.parse(await Deno.readTextFile(path)) as ThroughputReport;
      assertEquals(Object.keys(parsed).sort(), ["date", "rounds", "rows", "seconds"]);
      assertEquals(new Date(parsed.date).toISOString(), parsed.date, "date is ISO 8601");
      assertEquals([parsed.rounds, parsed.seconds], [1, 3]);
      assertEquals(parsed.rows.map((r) => r.name), ["veth", "ours-aes256gcm"]);
      for (const row of parsed.rows) {
        assertEquals(Object.keys(row).sort(), ROW_KEYS, `keys of ${row.name}`);
        for (const key of ROW_KEYS.filter((k) => k !== "name")) {
          const value = row[key as keyof typeof row];
          assert(
            typeof value === "number" && Number.isFinite(value) && value > 0,
            `${row.name}.${key} = ${value} is not a positive finite number`,
          );
        }
      }
      const table = formatTable(parsed);
      assert(table.includes("wireguard-go") && table.includes("not measured yet (issue #5)"));
      assert(table.includes("ours-aes256gcm / veth = "), table);
      console.log(table);
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  },
});
