/**
 * Throughput benchmark: iperf3 TCP (1 and 4 streams) through each path, all in one run so that
 * the figures compare (LAB-FACTS: ±20 % between runs). Run it with `bash scripts/bench.sh
 * [--rounds R] [--seconds S] [--warmup S] [--only name,name] [--[no-]pin] [--[no-]load-checks]
 * [--[no-]memory]`; it prints a table and writes `test/artifacts/throughput.json`.
 *
 * Paths (test/bench/_paths.ts): plain veth, our appliance with three suites, strongSwan
 * kernel-libipsec, wireguard-go and OpenVPN 2.6 (the last two installed with apt-get when
 * missing). Per path, in order:
 * 1. a fresh lab: two namespaces on one veth (198.51.100.1 ⇄ 198.51.100.2); both tunnel ends
 *    and both iperf3 ends run inside them;
 * 2. the tunnel is brought up and proven: the expected suite on both ends where the peer can
 *    tell, ping both ways between the inner addresses (10.1.0.1 ⇄ 10.2.0.1); then, unless
 *    `--no-pin`, each end's processes are pinned to its half of the CPUs (test/bench/_pinning.ts:
 *    the two ends model two machines; iperf3 stays free);
 * 3. a warm-up: TCP 1 stream for `--warmup` seconds (default 5), not counted: a path that just
 *    started (processes, JIT, buffers) runs slower for its first seconds;
 * 4. R rounds of {TCP 1 stream, TCP 4 streams}, S seconds each, iperf3 bound to the inner
 *    addresses; around each measurement the machine's CPU time (/proc/stat) and the tunnel
 *    device's counters, which must show the transferred bytes (else the traffic bypassed it);
 * 5. medians with min–max per path, CPU use as percent of all cores over all its measurements.
 *
 * Then, by default when every path is measured, the load checks and memory figures of
 * test/bench/load_checks.ts (one more lab).
 *
 * The CPU window of a measurement is the whole iperf3 call, so it includes iperf3's start-up
 * and tear-down (a few hundred ms) and anything else the machine runs meanwhile (e.g. a
 * concurrent test suite).
 */
import {
  listNamespaces,
  type NetnsLab,
  requireRoot,
  RUN_PREFIX,
  withLab,
} from "../netns/harness.ts";
import { iperf3 } from "../netns/traffic.ts";
import { allowedCpus, type EndCpus, pinNamespace, splitCpus } from "./_pinning.ts";
import { ARTIFACTS_DIR } from "../netns/rockhopper_node.ts";
import {
  type BenchPath,
  OPENVPN_PATH,
  openVpnPath,
  OURS_PREFIX,
  oursPath,
  STRONGSWAN_PATH,
  strongSwanPath,
  VETH_PATH,
  vethPath,
  WIREGUARD_PATH,
  wireGuardPath,
} from "./_paths.ts";
import {
  formatLoadChecks,
  formatMemory,
  type LoadChecksReport,
  type MemoryReport,
  runLoadChecks,
} from "./load_checks.ts";

export { OPENVPN_PATH, OURS_PREFIX, STRONGSWAN_PATH, VETH_PATH, WIREGUARD_PATH };

/** Where {@link writeReport} puts the report by default. */
export const DEFAULT_REPORT_PATH: string = `${ARTIFACTS_DIR}throughput.json`;
/** Default number of rounds per path. */
export const DEFAULT_ROUNDS = 3;
/** Default length of one iperf3 measurement in seconds. */
export const DEFAULT_SECONDS = 10;
/**
 * Default length of the discarded TCP run each path gets before its rounds, in seconds. A
 * freshly started path is slower for its first seconds (measured here: ours ≈ 4,300 Mbit/s in
 * a first 5-second round, ≈ 5,200 from the second on); the rounds measure the steady state.
 */
export const DEFAULT_WARMUP_SECONDS = 5;
/** Parallel TCP streams of the two measurements of a round. */
export const STREAM_COUNTS = [1, 4] as const;
/**
 * The tunnel device must have sent at least this share of the bytes iperf3 received: TCP/IP
 * headers make the true figure a little above 1; a bypass over the veth makes it about 0.
 */
export const MIN_DEVICE_SHARE = 0.9;

/** One row of the report; medians and extremes in Mbit/s, rounded to integers. */
export interface ThroughputRow {
  name: string;
  tcp1_mbps: number;
  tcp4_mbps: number;
  tcp1_min: number;
  tcp1_max: number;
  tcp4_min: number;
  tcp4_max: number;
  /** Busy time of the whole machine during the measurements, percent of all cores. */
  cpu_pct: number;
}

/**
 * The report as written to `throughput.json`: `date` and `rows` are the shape issue #5 fixes;
 * the rest is extra.
 */
export interface ThroughputReport {
  /** ISO 8601 time the run started. */
  date: string;
  rounds: number;
  seconds: number;
  /** The discarded TCP run each path had before its rounds (see {@link BenchOptions.warmup}). */
  warmup_seconds: number;
  /** The CPUs each tunnel end's processes were pinned to; null with `--no-pin`. */
  pinned: EndCpus | null;
  rows: ThroughputRow[];
  /** A new IKE SA and liveness checks while ours-aes256gcm carries load (`--load-checks`). */
  load_checks?: LoadChecksReport;
  /** RSS of our responder idle, under load, with 1,000 child SAs (`--memory`). */
  memory?: MemoryReport;
  /** Why the load checks or memory figures are missing, when their lab failed. */
  load_checks_error?: string;
}

/** Options of {@link runBenchmark}. */
export interface BenchOptions {
  /** Rounds per path (each round: TCP 1 stream, then TCP 4 streams). */
  rounds: number;
  /** Length of one measurement in seconds. */
  seconds: number;
  /**
   * Seconds of TCP (1 stream) through each path before its rounds, not counted; default
   * {@link DEFAULT_WARMUP_SECONDS}, 0 = none.
   */
  warmup?: number;
  /** Names of the paths to measure (all of {@link PATH_NAMES} when absent). */
  only?: readonly string[];
  /**
   * Pin each tunnel end's processes to its half of the CPUs (test/bench/_pinning.ts); default
   * true.
   */
  pin?: boolean;
  /** Run the load checks (default: only when all paths are measured). */
  loadChecks?: boolean;
  /** Measure memory use (default: only when all paths are measured). */
  memory?: boolean;
  /** Progress lines; default `console.error`. */
  log?: (line: string) => void;
}

/**
 * Every measured path, in table order: the row names issue #5 fixes, plus
 * `ours-aes256gcm-raw` (raw ESP, which `nat_t="auto"` picks without a NAT). The other ours-*
 * rows run ESP in UDP 4500 (`nat_t="force"`), where UDP GSO/GRO apply.
 */
const PATHS: readonly BenchPath[] = [
  vethPath,
  oursPath("ours-aes128gcm", {
    ikeSuite: "aes128gcm16-prfsha256-ecp256",
    espSuite: "aes128gcm16",
    natT: "force",
  }),
  oursPath("ours-aes256gcm", {
    ikeSuite: "aes256gcm16-prfsha384-x25519",
    espSuite: "aes256gcm16",
    natT: "force",
  }),
  oursPath("ours-aes256-sha256", {
    ikeSuite: "aes256-sha256-modp2048",
    espSuite: "aes256-sha256",
    natT: "force",
  }),
  oursPath("ours-aes256gcm-raw", {
    ikeSuite: "aes256gcm16-prfsha384-x25519",
    espSuite: "aes256gcm16",
    natT: "auto",
  }),
  strongSwanPath(STRONGSWAN_PATH, "aes128gcm16-prfsha256-ecp256", "aes128gcm16"),
  wireGuardPath,
  openVpnPath,
];

/** Names of the measured paths, in table order. */
export const PATH_NAMES: readonly string[] = PATHS.map((p) => p.name);

/** Peers each ours-* row is compared with in the printed ratios. */
export const RATIO_PEERS: readonly string[] = [
  VETH_PATH,
  STRONGSWAN_PATH,
  WIREGUARD_PATH,
  OPENVPN_PATH,
];

/** Cumulative CPU time of the machine in clock ticks (the `cpu` line of /proc/stat). */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * Parses the aggregate `cpu` line of /proc/stat. Idle is `idle + iowait`; `guest` and
 * `guest_nice` are already inside `user` and `nice`, so only the first eight fields count.
 *
 * @example
 * ```ts
 * parseProcStat("cpu  100 0 50 800 50 0 0 0 0 0\n"); // { busy: 150, total: 1000 }
 * ```
 */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  const fields = line?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  if (fields.length < 5 || fields.some((n) => !Number.isFinite(n))) {
    throw new SyntaxError(
      `Cannot parse /proc/stat: no aggregate cpu line in "${text.slice(0, 80)}"`,
    );
  }
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!;
  return { busy: total - idle, total };
}

/** Reads /proc/stat now. */
export async function readCpuTimes(): Promise<CpuTimes> {
  return parseProcStat(await Deno.readTextFile("/proc/stat"));
}

/**
 * Busy share of all cores between two readings, in percent.
 *
 * @example
 * ```ts
 * cpuPercent({ busy: 0, total: 0 }, { busy: 150, total: 200 }); // 75
 * ```
 */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) throw new RangeError("Cannot compute CPU use: no time passed between readings");
  return (100 * (after.busy - before.busy)) / total;
}

/** Median, minimum and maximum of a non-empty list. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/**
 * Median (mean of the middle two for an even count), minimum and maximum.
 *
 * @example
 * ```ts
 * spread([3, 1, 2]); // { median: 2, min: 1, max: 3 }
 * ```
 */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError("Cannot summarize measurements: none were taken");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Usage line of the command. */
export const BENCH_USAGE = "usage: [--rounds N] [--seconds S] [--warmup S] [--only name,name] " +
  "[--[no-]pin] [--[no-]load-checks] [--[no-]memory]";

/**
 * Parses the command line: `--rounds N`, `--seconds S`, `--warmup S` (0 allowed),
 * `--only name,name` (also `--x=value`), `--pin`/`--no-pin`, `--load-checks`/`--no-load-checks`,
 * `--memory`/`--no-memory`.
 *
 * @example
 * ```ts
 * parseBenchArgs(["--rounds", "1", "--only", "veth"]); // { rounds: 1, seconds: 10, only: ["veth"] }
 * ```
 */
export function parseBenchArgs(args: readonly string[]): BenchOptions {
  const options: BenchOptions = { rounds: DEFAULT_ROUNDS, seconds: DEFAULT_SECONDS };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      const v = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (v === undefined || v === "") throw new TypeError(`Cannot parse ${flag}: value missing`);
      return v;
    };
    const positiveInteger = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`Cannot parse ${flag}: "${v}" is not a positive integer`);
      }
      return n;
    };
    switch (flag) {
      case "--rounds":
        options.rounds = positiveInteger(value());
        break;
      case "--seconds":
        options.seconds = positiveInteger(value());
        break;
      case "--warmup": {
        const v = value();
        options.warmup = v === "0" ? 0 : positiveInteger(v);
        break;
      }
      case "--only": {
        const names = value().split(",").map((s) => s.trim()).filter((s) => s !== "");
        const unknown = names.filter((n) => !PATH_NAMES.includes(n));
        if (unknown.length > 0) {
          throw new RangeError(
            `Cannot parse --only: unknown path ${unknown.join(", ")} (known: ${
              PATH_NAMES.join(", ")
            })`,
          );
        }
        options.only = names;
        break;
      }
      case "--pin":
      case "--no-pin":
      case "--load-checks":
      case "--no-load-checks":
      case "--memory":
      case "--no-memory": {
        if (eq >= 0) throw new TypeError(`Cannot parse ${flag}: it takes no value`);
        const on = !flag.startsWith("--no-");
        if (flag.endsWith("load-checks")) options.loadChecks = on;
        else if (flag.endsWith("memory")) options.memory = on;
        else options.pin = on;
        break;
      }
      default:
        throw new TypeError(`Cannot parse argument "${arg}" (${BENCH_USAGE})`);
    }
  }
  return options;
}

/** Measures one path in `lab`: set-up, proof, R rounds; returns its row. */
async function measurePath(
  lab: NetnsLab,
  path: BenchPath,
  options: BenchOptions,
  pinned: EndCpus | null,
): Promise<ThroughputRow> {
  const log = options.log ?? console.error;
  const endpoints = await path.setUp(lab);
  if (pinned !== null) {
    const ends = [
      [endpoints.client, pinned.client],
      [endpoints.server, pinned.server],
    ] as const;
    const done: string[] = [];
    for (const [ns, cpus] of ends) {
      const pids = await pinNamespace(lab.nsName(ns), cpus);
      done.push(`${ns}'s ${pids.length} process(es) to CPU ${cpus.join(",")}`);
    }
    log(`bench: ${path.name} pinned ${done.join(", ")}`);
  }
  const warmup = options.warmup ?? DEFAULT_WARMUP_SECONDS;
  if (warmup > 0) {
    const mbps = await iperf3(lab, {
      server: endpoints.server,
      client: endpoints.client,
      serverAddress: endpoints.serverAddress,
      clientAddress: endpoints.clientAddress,
      seconds: warmup,
      streams: 1,
    });
    log(`bench: ${path.name} warm-up ${warmup} s tcp1: ${mbps.toFixed(0)} Mbit/s (not counted)`);
  }
  const results = new Map<number, number[]>(STREAM_COUNTS.map((n) => [n, []]));
  let busy = 0;
  let total = 0;
  for (let round = 1; round <= options.rounds; round++) {
    for (const streams of STREAM_COUNTS) {
      const countersBefore = await lab.interfaceCounters(endpoints.client, endpoints.device);
      const cpuBefore = await readCpuTimes();
      const mbps = await iperf3(lab, {
        server: endpoints.server,
        client: endpoints.client,
        serverAddress: endpoints.serverAddress,
        clientAddress: endpoints.clientAddress,
        seconds: options.seconds,
        streams,
      });
      const cpuAfter = await readCpuTimes();
      const countersAfter = await lab.interfaceCounters(endpoints.client, endpoints.device);
      const deviceBytes = countersAfter.txBytes - countersBefore.txBytes;
      const payloadBytes = (mbps * 1e6 * options.seconds) / 8;
      if (!(mbps > 0) || deviceBytes < MIN_DEVICE_SHARE * payloadBytes) {
        throw new Error(
          `Cannot measure ${path.name}: iperf3 reported ${mbps.toFixed(0)} Mbit/s ` +
            `(${payloadBytes.toFixed(0)} bytes) but ${endpoints.device} in ${endpoints.client} ` +
            `sent only ${deviceBytes} bytes`,
        );
      }
      busy += cpuAfter.busy - cpuBefore.busy;
      total += cpuAfter.total - cpuBefore.total;
      results.get(streams)!.push(mbps);
      log(
        `bench: ${path.name} round ${round}/${options.rounds} tcp${streams}: ${
          mbps.toFixed(0)
        } Mbit/s, cpu ${cpuPercent(cpuBefore, cpuAfter).toFixed(0)} %`,
      );
    }
  }
  endpoints.passed();
  const tcp1 = spread(results.get(1)!);
  const tcp4 = spread(results.get(4)!);
  return {
    name: path.name,
    tcp1_mbps: Math.round(tcp1.median),
    tcp4_mbps: Math.round(tcp4.median),
    tcp1_min: Math.round(tcp1.min),
    tcp1_max: Math.round(tcp1.max),
    tcp4_min: Math.round(tcp4.min),
    tcp4_max: Math.round(tcp4.max),
    cpu_pct: Math.round(cpuPercent({ busy: 0, total: 0 }, { busy, total })),
  };
}

/**
 * Measures every selected path, one fresh lab at a time; throws (after the lab is cleaned up)
 * on the first path that does not come up or whose traffic bypasses the tunnel.
 *
 * @example
 * ```ts
 * const report = await runBenchmark({ rounds: 1, seconds: 3, only: ["veth"] });
 * console.log(formatTable(report));
 * await writeReport(report);
 * ```
 */
export async function runBenchmark(options: BenchOptions): Promise<ThroughputReport> {
  const date = new Date().toISOString();
  const selected = PATHS.filter((p) => options.only === undefined || options.only.includes(p.name));
  const perMeasurementMs = (options.seconds + 25) * 1000;
  const warmupMs = ((options.warmup ?? DEFAULT_WARMUP_SECONDS) + 25) * 1000;
  const timeoutMs = 90_000 + warmupMs + options.rounds * STREAM_COUNTS.length * perMeasurementMs;
  const pinned = options.pin === false ? null : splitCpus(await allowedCpus());
  const rows: ThroughputRow[] = [];
  for (const path of selected) {
    rows.push(await withLab((lab) => measurePath(lab, path, options, pinned), { timeoutMs }));
  }
  const report: ThroughputReport = {
    date,
    rounds: options.rounds,
    seconds: options.seconds,
    warmup_seconds: options.warmup ?? DEFAULT_WARMUP_SECONDS,
    pinned,
    rows,
  };
  const everything = options.only === undefined;
  const loadChecks = options.loadChecks ?? everything;
  const memory = options.memory ?? everything;
  if (loadChecks || memory) {
    // Figures only: a failure here is reported, and the throughput rows are kept.
    try {
      const extras = await runLoadChecks({
        seconds: options.seconds,
        loadChecks,
        memory,
        log: options.log ?? console.error,
      });
      if (extras.loadChecks !== undefined) report.load_checks = extras.loadChecks;
      if (extras.memory !== undefined) report.memory = extras.memory;
    } catch (e) {
      report.load_checks_error = e instanceof Error ? e.message : String(e);
      (options.log ?? console.error)(`bench: load checks FAILED: ${report.load_checks_error}`);
    }
  }
  return report;
}

/** Writes `report` as JSON (default {@link DEFAULT_REPORT_PATH}). */
export async function writeReport(
  report: ThroughputReport,
  path: string = DEFAULT_REPORT_PATH,
): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}

function formatRatio(ratio: number): string {
  return ratio.toFixed(ratio < 0.1 ? 3 : ratio < 1 ? 2 : 1);
}

/**
 * The printed result: one line per path (median with min–max, CPU), the ratios of each ours-*
 * row to veth, strongSwan, wireguard-go and OpenVPN, then the load checks and memory figures
 * when they ran.
 *
 * @example
 * ```ts
 * console.log(formatTable(await runBenchmark({ rounds: 1, seconds: 3 })));
 * // …
 * //   ours-aes256gcm / strongswan-libipsec-aes128gcm = 1.9× (tcp1), 2.1× (tcp4)
 * ```
 */
export function formatTable(report: ThroughputReport): string {
  const header = ["path", "tcp1 Mbit/s median (min–max)", "tcp4 Mbit/s median (min–max)", "cpu %"];
  const cells = report.rows.map((r) => [
    r.name,
    `${r.tcp1_mbps} (${r.tcp1_min}–${r.tcp1_max})`,
    `${r.tcp4_mbps} (${r.tcp4_min}–${r.tcp4_max})`,
    String(r.cpu_pct),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) =>
    c.map((v, i) => i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)).join("  ");
  const lines = [
    `throughput: iperf3 TCP, ${report.rounds} round(s) × ${report.seconds} s, ` +
    `${navigator.hardwareConcurrency} cores, ${report.date}`,
    report.pinned === null
      ? "tunnel ends not pinned (--no-pin)"
      : `tunnel ends pinned: client's to CPU ${report.pinned.client.join(",")}, server's to CPU ${
        report.pinned.server.join(",")
      } (iperf3 free)`,
    line(header),
    ...cells.map(line),
  ];
  const byName = new Map(report.rows.map((r) => [r.name, r]));
  const ratios: string[] = [];
  for (const ours of report.rows.filter((r) => r.name.startsWith(OURS_PREFIX))) {
    for (const peerName of RATIO_PEERS) {
      const peer = byName.get(peerName);
      if (peer === undefined || peer.tcp1_mbps <= 0 || peer.tcp4_mbps <= 0) continue;
      ratios.push(
        `  ${ours.name} / ${peer.name} = ${formatRatio(ours.tcp1_mbps / peer.tcp1_mbps)}× (tcp1), ${
          formatRatio(ours.tcp4_mbps / peer.tcp4_mbps)
        }× (tcp4)`,
      );
    }
  }
  if (ratios.length > 0) lines.push("", "ratios of medians, ours / peer:", ...ratios);
  if (report.load_checks !== undefined) lines.push("", ...formatLoadChecks(report.load_checks));
  if (report.memory !== undefined) lines.push("", ...formatMemory(report.memory));
  if (report.load_checks_error !== undefined) {
    lines.push("", `load checks / memory: FAILED: ${report.load_checks_error.split("\n")[0]}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
  if (requireRoot()) {
    console.error("Cannot run the benchmark: it needs root and --allow-run (network namespaces)");
    Deno.exit(1);
  }
  try {
    const report = await runBenchmark(options);
    console.log(formatTable(report));
    await writeReport(report);
    console.log(`\nwrote ${DEFAULT_REPORT_PATH}`);
  } catch (e) {
    console.error(`bench: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
  const left = await listNamespaces(RUN_PREFIX);
  if (left.length > 0) console.error(`bench: namespaces left behind: ${left.join(" ")}`);
}
