/**
 * Helpers for the IKEv2 lifecycle tests (rekey, liveness, loss) of test/netns/lifecycle_test.ts
 * and test/interop/strongswan_lifecycle_test.ts: timestamped log lines, a token-bucket shaper
 * that keeps a TCP transfer steady for a known time, and what our appliance logs about rekeys.
 *
 * Every line of our log starts with an ISO time (`2026-11-27T07:14:50.217Z info  ike[#1] …`),
 * and the tests run on one machine, so log times and `Date.now()` compare directly.
 */
import type { NetnsLab } from "./harness.ts";
import { CHILD_SA_INSTALLED_PATTERN, type LoggedChildSa } from "./rockhopper_node.ts";

/** One log line that matched, with the time it was written (ms since the epoch). */
export interface TimedMatch {
  time: number;
  /** The IKE SA serial of the line's tag (`ike[#3]` → 3), or undefined. */
  serial: number | undefined;
  match: RegExpMatchArray;
}

const LINE_HEAD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) +\w+ +\S*?(?:\[#(\d+)\])? /;

/** Every line of our appliance's `log` that matches `pattern` (no `g` flag), oldest first. */
export function timedMatches(log: string, pattern: RegExp): TimedMatch[] {
  const out: TimedMatch[] = [];
  for (const line of log.split("\n")) {
    const head = LINE_HEAD.exec(line);
    if (head === null) continue;
    const match = line.match(pattern);
    if (match === null) continue;
    out.push({
      time: Date.parse(head[1]!),
      serial: head[2] === undefined ? undefined : Number(head[2]),
      match,
    });
  }
  return out;
}

/** A "CHILD_SA installed" line with its time and IKE SA serial. */
export interface TimedChildSa extends LoggedChildSa {
  time: number;
  serial: number | undefined;
}

/** Every "CHILD_SA installed" line of our log, oldest first. */
export function installedChildSas(log: string): TimedChildSa[] {
  const pattern = new RegExp(CHILD_SA_INSTALLED_PATTERN.source);
  return timedMatches(log, pattern).map(({ time, serial, match }) => ({
    time,
    serial,
    suite: match[1]!,
    spiIn: match[2]!,
    spiOut: match[3]!,
    localTs: match[4]!,
    remoteTs: match[5]!,
    udpEncapsulated: match[6] !== undefined,
  }));
}

/**
 * Lines our data path writes (at debug level) when a packet meets no SA: on a make-before-break
 * rekey there must be none.
 */
export const SA_GAP_PATTERN = /no inbound SA for SPI|no SA for \d|dropped ESP on SPI/;

/** Escapes `s` for use inside a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Largest TCP socket buffer {@link boundTcpBuffers} allows, in bytes. */
export const TCP_BUFFER_MAX = 256 * 1024;

/**
 * Caps the egress of `dev` inside `ns` at `mbit` Mbit/s with a token bucket (`tc tbf`; netem is
 * not available here). On a tunnel device only the inner packets are shaped, never IKE, so a
 * transfer of known size lasts a known time. The queue holds 4 MiB, far more than a TCP flow
 * with {@link boundTcpBuffers} can have in flight, so the shaper delays but never drops.
 */
export async function shapeEgress(
  lab: NetnsLab,
  ns: string,
  dev: string,
  mbit: number,
): Promise<void> {
  await lab.execChecked(ns, [
    "tc",
    "qdisc",
    "replace",
    "dev",
    dev,
    "root",
    "tbf",
    "rate",
    `${mbit}mbit`,
    "burst",
    "32kb",
    "limit",
    "4mb",
  ]);
}

/**
 * Limits TCP send and receive buffers in `ns` to {@link TCP_BUFFER_MAX}, so that a flow never
 * has more in flight than a {@link shapeEgress} queue holds: then every TCP retransmission in
 * the namespace stands for a packet lost on the way (see {@link tcpRetransmissions}).
 */
export async function boundTcpBuffers(lab: NetnsLab, ns: string): Promise<void> {
  for (const name of ["net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem"]) {
    await lab.execChecked(ns, ["sysctl", "-qw", `${name}=4096 65536 ${TCP_BUFFER_MAX}`]);
  }
}

/** The `RetransSegs` counter of the TCP stack in `ns` (from `/proc/net/snmp`). */
export async function tcpRetransmissions(lab: NetnsLab, ns: string): Promise<number> {
  const { stdout } = await lab.execChecked(ns, ["cat", "/proc/net/snmp"]);
  const [names, values] = stdout.split("\n").filter((line) => line.startsWith("Tcp:"));
  const index = names?.split(/\s+/).indexOf("RetransSegs") ?? -1;
  const value = values?.split(/\s+/)[index];
  if (index < 0 || value === undefined) {
    throw new Error(`Cannot read RetransSegs in ${ns}: ${stdout}`);
  }
  return Number(value);
}

/** What {@link watchTcpRetransmissions} saw. */
export interface RetransmissionRecord {
  /** Retransmitted segments while watching. */
  total: number;
  /** When the counter went up (ms since the epoch, sampled every 250 ms) and by how much. */
  increases: { time: number; count: number }[];
}

/**
 * Samples {@link tcpRetransmissions} in `ns` every 250 ms until `stop()`, so that a failure can
 * say *when* segments were lost (e.g. at a rekey) and not only how many.
 */
export async function watchTcpRetransmissions(
  lab: NetnsLab,
  ns: string,
): Promise<{ stop(): Promise<RetransmissionRecord> }> {
  const start = await tcpRetransmissions(lab, ns);
  const increases: { time: number; count: number }[] = [];
  let last = start;
  let stopped = false;
  const sample = async () => {
    const now = await tcpRetransmissions(lab, ns);
    if (now !== last) increases.push({ time: Date.now(), count: now - last });
    last = now;
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await sleep(250);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await sample();
      return { total: last - start, increases };
    },
  };
}

/** "14 at 07:44:46.166, 2 at 07:44:47.001" for a failure message. */
export function describeIncreases(increases: RetransmissionRecord["increases"]): string {
  return increases.map((i) => `${i.count} at ${new Date(i.time).toISOString().slice(11, 23)}`)
    .join(", ") || "none";
}

/**
 * Splits the increases of `record` into those inside one of `windows` (ms since the epoch) and
 * the rest. A segment lost at time t is retransmitted about one round trip later (fast
 * retransmit) and sampled up to 250 ms after that, so each window should reach a second or so
 * past its last event.
 */
export function retransmissionsWithin(
  record: RetransmissionRecord,
  windows: readonly { from: number; to: number }[],
): { inside: RetransmissionRecord["increases"]; outside: RetransmissionRecord["increases"] } {
  const hit = (t: number) => windows.some((w) => t >= w.from && t <= w.to);
  return {
    inside: record.increases.filter((i) => hit(i.time)),
    outside: record.increases.filter((i) => !hit(i.time)),
  };
}

/**
 * Datagrams the kernel dropped in `ns` because a socket's receive buffer was full (UDP: ESP in
 * UDP and IKE; raw: ESP), e.g. while an appliance was starved of CPU.
 */
export async function socketDrops(
  lab: NetnsLab,
  ns: string,
): Promise<{ udp: number; raw: number }> {
  const snmp = (await lab.execChecked(ns, ["cat", "/proc/net/snmp"])).stdout;
  const [names, values] = snmp.split("\n").filter((line) => line.startsWith("Udp:"));
  const index = names?.split(/\s+/).indexOf("RcvbufErrors") ?? -1;
  const udp = Number(values?.split(/\s+/)[index] ?? 0);
  const raw = (await lab.execChecked(ns, ["cat", "/proc/net/raw"])).stdout.split("\n").slice(1)
    .map((line) => Number(line.trim().split(/\s+/).at(-1) ?? 0))
    .filter((n) => Number.isFinite(n))
    .reduce((a, n) => a + n, 0);
  return { udp, raw };
}

/**
 * The time an initiator needs to give up a request: the first send, then `tries`
 * retransmissions, each timeout double the one before (RFC 7296 §2.1), in ms.
 */
export function retransmissionBudgetMs(firstTimeoutSeconds: number, tries: number): number {
  let total = 0;
  for (let i = 0; i <= tries; i++) total += firstTimeoutSeconds * 1000 * 2 ** i;
  return total;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 200 ms until it returns a value other than undefined; throws after `timeoutMs`. */
export async function pollFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`Cannot see ${what} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** A fresh random key per test, so that a hit in the logs cannot be a coincidence. */
export function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}
