/**
 * Throughput benchmark: iperf3 TCP (1 and 4 streams) through each path, all in one run so that
 * the figures compare (LAB-FACTS: ±20 % between runs). Run it with `bash scripts/bench.sh
 * [--rounds R] [--seconds S] [--only name,name]`; it prints a table and writes
 * `test/artifacts/throughput.json`.
 *
 * Per path, in order:
 * 1. a fresh lab: two namespaces on one veth (198.51.100.1 ⇄ 198.51.100.2); both tunnel ends
 *    and both iperf3 ends run inside them;
 * 2. the tunnel is brought up and proven: a child SA with the expected suite installed on both
 *    ends, ping both ways between the inner addresses (10.1.0.1 ⇄ 10.2.0.1);
 * 3. R rounds of {TCP 1 stream, TCP 4 streams}, S seconds each, iperf3 bound to the inner
 *    addresses; around each measurement the machine's CPU time (/proc/stat) and the tunnel
 *    device's counters, which must show the transferred bytes (else the traffic bypassed it);
 * 4. medians with min–max per path, CPU use as percent of all cores over all its measurements.
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
import { ARTIFACTS_DIR, FailureArtifacts, RockhopperNode } from "../netns/rockhopper_node.ts";
import { startCharonPair } from "../interop/strongswan.ts";

/** Where {@link writeReport} puts the report by default. */
export const DEFAULT_REPORT_PATH: string = `${ARTIFACTS_DIR}throughput.json`;
/** Default number of rounds per path. */
export const DEFAULT_ROUNDS = 3;
/** Default length of one iperf3 measurement in seconds. */
export const DEFAULT_SECONDS = 10;
/** Parallel TCP streams of the two measurements of a round. */
export const STREAM_COUNTS = [1, 4] as const;
/**
 * The tunnel device must have sent at least this share of the bytes iperf3 received: TCP/IP
 * headers make the true figure a little above 1; a bypass over the veth makes it about 0.
 */
export const MIN_DEVICE_SHARE = 0.9;

const LEFT_OUTER = "198.51.100.1";
const RIGHT_OUTER = "198.51.100.2";
const LEFT_INNER = "10.1.0.1";
const RIGHT_INNER = "10.2.0.1";
const LEFT_LAN = "10.1.0.0/24";
const RIGHT_LAN = "10.2.0.0/24";
const OUR_TUNNEL_DEVICE = "rhp1";
const LIBIPSEC_DEVICE = "ipsec0";
const PING_COUNT = 3;

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

/** The report as written to `throughput.json`. */
export interface ThroughputReport {
  /** ISO 8601 time the run started. */
  date: string;
  rounds: number;
  seconds: number;
  rows: ThroughputRow[];
}

/** Options of {@link runBenchmark}. */
export interface BenchOptions {
  /** Rounds per path (each round: TCP 1 stream, then TCP 4 streams). */
  rounds: number;
  /** Length of one measurement in seconds. */
  seconds: number;
  /** Names of the paths to measure (all of {@link PATH_NAMES} when absent). */
  only?: readonly string[];
  /** Progress lines; default `console.error`. */
  log?: (line: string) => void;
}

/** Where iperf3 runs once a path is up, and what proves that the traffic took the tunnel. */
interface Endpoints {
  client: string;
  server: string;
  clientAddress: string;
  serverAddress: string;
  /** Device in the client's namespace that carries the measured traffic. */
  device: string;
  /** Marks the path as done (its logs are then not kept as failure artifacts). */
  passed(): void;
}

/** A measured path: a name and how to build it inside a fresh lab. */
interface BenchPath {
  name: string;
  setUp(lab: NetnsLab): Promise<Endpoints>;
}

/** A path listed in the table but not measured; never part of the JSON rows. */
export interface UnmeasuredPath {
  name: string;
  reason: string;
}

/** Paths shown as not measured (no numbers are invented for them). */
export const UNMEASURED_PATHS: readonly UnmeasuredPath[] = [
  { name: "wireguard-go", reason: "not measured yet (issue #5)" },
  { name: "openvpn", reason: "not measured yet (issue #5)" },
];

/** Row that the ours-* rows are compared with (plain veth). */
export const VETH_PATH = "veth";
/** Row that the ours-* rows are compared with (strongSwan). */
export const STRONGSWAN_PATH = "strongswan-libipsec-aes128gcm";
/** Prefix of the rows of our appliance. */
export const OURS_PREFIX = "ours-";

function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** Two namespaces joined by a veth; the short names are `left` (client) and `right`. */
async function vethPair(lab: NetnsLab): Promise<{ leftDevice: string }> {
  await lab.addNamespace("left");
  await lab.addNamespace("right");
  const { devA } = await lab.link("left", `${LEFT_OUTER}/24`, "right", `${RIGHT_OUTER}/24`);
  return { leftDevice: devA };
}

/** Pings both ways between the inner addresses; throws unless every echo comes back. */
async function assertInnerPing(lab: NetnsLab, path: string): Promise<void> {
  for (
    const [ns, from, to] of [
      ["left", LEFT_INNER, RIGHT_INNER],
      ["right", RIGHT_INNER, LEFT_INNER],
    ] as const
  ) {
    const received = await lab.ping(ns, to, { from, count: PING_COUNT });
    if (received !== PING_COUNT) {
      throw new Error(
        `Cannot measure ${path}: ${received} of ${PING_COUNT} pings from ${from} to ${to} came back`,
      );
    }
  }
}

const vethPath: BenchPath = {
  name: VETH_PATH,
  async setUp(lab) {
    const { leftDevice } = await vethPair(lab);
    return {
      client: "left",
      server: "right",
      clientAddress: LEFT_OUTER,
      serverAddress: RIGHT_OUTER,
      device: leftDevice,
      passed: () => {},
    };
  },
};

/** Two of our appliances; `left` initiates. */
function oursPath(name: string, ikeSuite: string, espSuite: string): BenchPath {
  return {
    name,
    async setUp(lab) {
      await vethPair(lab);
      const psk = randomPsk();
      const common = {
        tunnelInterface: OUR_TUNNEL_DEVICE,
        ikeSuites: [ikeSuite],
        espSuites: [espSuite],
        dpd: "0",
        logLevel: "info" as const,
      };
      const left = new RockhopperNode(lab, {
        ...common,
        namespace: "left",
        listenAddress: LEFT_OUTER,
        tunnelAddress: `${LEFT_INNER}/24`,
        trafficLocal: [LEFT_LAN],
        trafficRemote: [RIGHT_LAN],
        myId: "fqdn:left.example.com",
        peers: [{ id: "fqdn:right.example.com", address: RIGHT_OUTER, auto: "start", psk }],
      });
      const right = new RockhopperNode(lab, {
        ...common,
        namespace: "right",
        listenAddress: RIGHT_OUTER,
        tunnelAddress: `${RIGHT_INNER}/24`,
        trafficLocal: [RIGHT_LAN],
        trafficRemote: [LEFT_LAN],
        myId: "fqdn:right.example.com",
        peers: [{ id: "fqdn:left.example.com", auto: "add", psk }],
      });
      const artifacts = new FailureArtifacts(lab, `bench-${name}`);
      artifacts.add("left", left);
      artifacts.add("right", right);
      await right.start();
      await left.start();
      const [l, r] = [await left.waitForChildSa(), await right.waitForChildSa()];
      if (l.suite !== espSuite || r.suite !== espSuite) {
        throw new Error(
          `Cannot measure ${name}: child SAs use ${l.suite} / ${r.suite}, not ${espSuite}`,
        );
      }
      if (l.spiIn !== r.spiOut || l.spiOut !== r.spiIn) {
        throw new Error(
          `Cannot measure ${name}: SPIs do not pair up (left in ${l.spiIn} out ${l.spiOut}, ` +
            `right in ${r.spiIn} out ${r.spiOut})`,
        );
      }
      await assertInnerPing(lab, name);
      return {
        client: "left",
        server: "right",
        clientAddress: LEFT_INNER,
        serverAddress: RIGHT_INNER,
        device: OUR_TUNNEL_DEVICE,
        passed: () => artifacts.passed(),
      };
    },
  };
}

/** Two charons with kernel-libipsec; `left` initiates. */
function strongSwanPath(name: string, ikeProposals: string, espProposals: string): BenchPath {
  return {
    name,
    async setUp(lab) {
      await vethPair(lab);
      const { left, right } = await startCharonPair(lab, {
        psk: randomPsk(),
        ikeProposals,
        espProposals,
      });
      const artifacts = new FailureArtifacts(lab, `bench-${name}`);
      artifacts.add("left", left);
      artifacts.add("right", right);
      await left.initiate();
      for (const [side, peer] of [["left", left], ["right", right]] as const) {
        const ike = await peer.waitEstablished();
        const child = ike.childSas.find((c) => c.state === "INSTALLED");
        if (child?.encrAlg !== "AES_GCM_16" || child.encrKeySize !== "128") {
          throw new Error(
            `Cannot measure ${name}: ${side} charon's child SA uses ${child?.encrAlg} ` +
              `${child?.encrKeySize}, not AES_GCM_16 128`,
          );
        }
      }
      await assertInnerPing(lab, name);
      return {
        client: "left",
        server: "right",
        clientAddress: LEFT_INNER,
        serverAddress: RIGHT_INNER,
        device: LIBIPSEC_DEVICE,
        passed: () => artifacts.passed(),
      };
    },
  };
}

/** Every measured path, in table order. */
const PATHS: readonly BenchPath[] = [
  vethPath,
  oursPath("ours-aes128gcm", "aes128gcm16-prfsha256-ecp256", "aes128gcm16"),
  oursPath("ours-aes256gcm", "aes256gcm16-prfsha384-x25519", "aes256gcm16"),
  oursPath("ours-aes256-sha256", "aes256-sha256-modp2048", "aes256-sha256"),
  strongSwanPath(STRONGSWAN_PATH, "aes128gcm16-prfsha256-ecp256", "aes128gcm16"),
];

/** Names of the measured paths, in table order. */
export const PATH_NAMES: readonly string[] = PATHS.map((p) => p.name);

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

/**
 * Parses the command line: `--rounds N`, `--seconds S`, `--only name,name` (also `--x=value`).
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
      default:
        throw new TypeError(
          `Cannot parse argument "${arg}" (usage: [--rounds N] [--seconds S] [--only name,name])`,
        );
    }
  }
  return options;
}

/** Measures one path in `lab`: set-up, proof, R rounds; returns its row. */
async function measurePath(
  lab: NetnsLab,
  path: BenchPath,
  options: BenchOptions,
): Promise<ThroughputRow> {
  const log = options.log ?? console.error;
  const endpoints = await path.setUp(lab);
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
  const timeoutMs = 90_000 + options.rounds * STREAM_COUNTS.length * perMeasurementMs;
  const rows: ThroughputRow[] = [];
  for (const path of selected) {
    rows.push(await withLab((lab) => measurePath(lab, path, options), { timeoutMs }));
  }
  return { date, rounds: options.rounds, seconds: options.seconds, rows };
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
 * The printed result: one line per path (median with min–max, CPU), the unmeasured paths, then
 * the ratios of each ours-* row to veth and to strongSwan.
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
    line(header),
    ...cells.map(line),
    ...UNMEASURED_PATHS.map((u) => `${u.name.padEnd(widths[0]!)}  ${u.reason}`),
  ];
  const byName = new Map(report.rows.map((r) => [r.name, r]));
  const ratios: string[] = [];
  for (const ours of report.rows.filter((r) => r.name.startsWith(OURS_PREFIX))) {
    for (const peerName of [VETH_PATH, STRONGSWAN_PATH]) {
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
