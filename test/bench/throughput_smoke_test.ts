/**
 * Smoke test of the throughput benchmark: the real code path (labs, tunnel proof, iperf3, CPU
 * sampling, device counters, report) with one round of 3 s on the cheap paths — `veth`,
 * `ours-aes256gcm`, `wireguard-go` and `openvpn` (so that the peers' set-up is exercised in CI).
 * It checks that every figure is a positive finite number (the benchmark itself throws unless
 * the tunnel device carried the bytes) and that the JSON has the documented shape; it makes no
 * timing assertion. The load checks and memory figures are not run here. The report goes to a
 * temp file so that test/artifacts/throughput.json keeps the last full benchmark. */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { requireRoot } from "../netns/harness.ts";
import { generatorAddress, multiplyChildren, parseLivenessChecks } from "./load_checks.ts";
import { allowedCpus, splitCpus } from "./_pinning.ts";
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

/** The cheap paths: no strongSwan (its interop tests cover it), but both other VPNs. */
const SMOKE_PATHS = ["veth", "ours-aes256gcm", "wireguard-go", "openvpn"];

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
  assertEquals(parseBenchArgs(["--rounds", "1", "--seconds=3", "--only", "veth,openvpn"]), {
    rounds: 1,
    seconds: 3,
    only: ["veth", "openvpn"],
  });
  let message = "";
  try {
    parseBenchArgs(["--only", "tinc"]);
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  assert(message.startsWith("Cannot parse --only: unknown path tinc"), message);
});

Deno.test("parseBenchArgs reads --warmup (0 switches it off) and refuses a negative one", () => {
  assertEquals(parseBenchArgs(["--warmup", "0"]), { rounds: 3, seconds: 10, warmup: 0 });
  assertEquals(parseBenchArgs(["--warmup=7"]), { rounds: 3, seconds: 10, warmup: 7 });
  assertThrows(() => parseBenchArgs(["--warmup", "-1"]), RangeError, "--warmup");
});

Deno.test("parseBenchArgs switches the pinning of the tunnel ends on and off", () => {
  assertEquals(parseBenchArgs(["--no-pin"]), { rounds: 3, seconds: 10, pin: false });
  assertEquals(parseBenchArgs(["--no-pin", "--pin"]), { rounds: 3, seconds: 10, pin: true });
  assertThrows(() => parseBenchArgs(["--pin=0"]), TypeError, "--pin: it takes no value");
});

Deno.test("parseBenchArgs switches the load checks and memory figures on and off", () => {
  assertEquals(parseBenchArgs(["--only", "veth", "--load-checks", "--no-memory"]), {
    rounds: 3,
    seconds: 10,
    only: ["veth"],
    loadChecks: true,
    memory: false,
  });
  let message = "";
  try {
    parseBenchArgs(["--memory=yes"]);
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  assertEquals(message, "Cannot parse --memory: it takes no value");
});

Deno.test("parseLivenessChecks pairs checks with their requests and sees answers and retransmits", () => {
  const log = [
    "2026-11-27T10:00:01.000Z debug ike[#1] no traffic from fqdn:r for 1 s: liveness check",
    "2026-11-27T10:00:01.001Z debug ike[#1] sending INFORMATIONAL request 2 to 198.51.100.2:500",
    "2026-11-27T10:00:02.000Z debug ike[#1] no traffic from fqdn:r for 1 s: liveness check",
    "2026-11-27T10:00:02.001Z debug ike[#1] sending INFORMATIONAL request 3 to 198.51.100.2:500",
    "2026-11-27T10:00:03.000Z debug ike[#1] retransmit 1 of request 3",
    "2026-11-27T10:00:03.500Z debug ike[#2] sending CREATE_CHILD_SA request 9 to 198.51.100.3:500",
    "2026-11-27T10:00:04.000Z debug ike[#1] sending CREATE_CHILD_SA request 4 to 198.51.100.2:500",
    "2026-11-27T10:00:05.000Z debug ike[#1] no traffic from fqdn:r for 1 s: liveness check",
    "2026-11-27T10:00:05.001Z debug ike[#1] sending INFORMATIONAL request 5 to 198.51.100.2:500",
  ].join("\n");
  const checks = parseLivenessChecks(log);
  assertEquals(checks.map((c) => [c.sa, c.messageId, c.answered, c.retransmitted]), [
    ["#1", 2, true, false],
    ["#1", 3, true, true],
    ["#1", 5, false, false],
  ]);
  assertEquals(checks[0]!.time, Date.parse("2026-11-27T10:00:01.000Z"));
});

Deno.test("multiplyChildren copies child c0 with one /32 local selector per child", () => {
  const base = [
    "connections {",
    "    rh {",
    "        children {",
    "            c0 {",
    "                local_ts = 10.4.0.1/32",
    "                remote_ts = 10.2.0.0/24",
    "            }",
    "        }",
    "    }",
    "}",
    "",
  ].join("\n");
  const text = multiplyChildren(base, 3);
  assertEquals(text.match(/ c\d+ \{/g), [" c0 {", " c1 {", " c2 {"]);
  assertEquals(text.match(/local_ts = \S+/g), [
    "local_ts = 10.4.0.1/32",
    "local_ts = 10.4.0.2/32",
    "local_ts = 10.4.0.3/32",
  ]);
  assertEquals([generatorAddress(249), generatorAddress(250), generatorAddress(999)], [
    "10.4.0.250",
    "10.4.1.1",
    "10.4.3.250",
  ]);
});

Deno.test({
  name: "the benchmark measures veth, ours, wireguard-go and openvpn into a well-formed report",
  ignore: requireRoot(),
  fn: async () => {
    const report = await runBenchmark({
      rounds: 1,
      seconds: 3,
      warmup: 1,
      only: SMOKE_PATHS,
      loadChecks: false,
      memory: false,
    });
    const path = await Deno.makeTempFile({ prefix: "rht-throughput-", suffix: ".json" });
    try {
      await writeReport(report, path);
      const parsed = JSON.parse(await Deno.readTextFile(path)) as ThroughputReport;
      assertEquals(Object.keys(parsed).sort(), [
        "date",
        "pinned",
        "rounds",
        "rows",
        "seconds",
        "warmup_seconds",
      ]);
      assertEquals(parsed.warmup_seconds, 1);
      assertEquals(parsed.pinned, splitCpus(await allowedCpus()));
      assertEquals(new Date(parsed.date).toISOString(), parsed.date, "date is ISO 8601");
      assertEquals([parsed.rounds, parsed.seconds], [1, 3]);
      assertEquals(parsed.rows.map((r) => r.name), SMOKE_PATHS);
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
      for (const peer of ["veth", "wireguard-go", "openvpn"]) {
        assert(table.includes(`ours-aes256gcm / ${peer} = `), table);
      }
      console.log(table);
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  },
});
