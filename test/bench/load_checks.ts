/**
 * Load checks and memory figures of issue #5's Goal, measured on ours-aes256gcm in one lab.
 * They are reported, never asserted.
 *
 * ```
 *   left ──veth── right ──veth── third   (our appliance, initiates during the load)
 *  (loaded        (loaded  └─veth── gen    (charon: 1,000 child SAs in one IKE SA)
 *   initiator)     responder)
 * ```
 *
 * 1. `left` and `right` come up as in the ours-aes256gcm row, `left` with liveness checks every
 *    {@link LIVENESS_SECONDS} s; `right` also accepts `third` and `gen`. RSS of `right` idle.
 * 2. Load: iperf3 UDP at unlimited rate from 10.1.0.1 to 10.2.0.1. One way on purpose: a
 *    liveness check is only sent when nothing arrived during the interval (RFC 7296 §2.4), so
 *    under TCP (whose ACKs come back) no check would ever be sent. `left` keeps sending checks
 *    that the flooded `right` must answer; RSS of `right` is sampled throughout.
 * 3. During the load `third` starts and initiates: its IKE_SA_INIT + IKE_AUTH time is the span
 *    from its "initiating IKE_SA" line to its "IKE_SA established" line.
 * 4. After the load, the liveness checks `left` sent during it are read from its debug log:
 *    answered (a later request followed, which the task manager sends only after the response)
 *    and retransmitted.
 * 5. Memory: charon in `gen` opens one IKE SA and 1,000 child SAs with distinct selectors
 *    (10.4.x.y/32 ⇄ 10.2.0.0/24, CREATE_CHILD_SA each); RSS of `right` once all are installed.
 *
 * RSS is read from /proc: the appliance's main process (the data path) and its whole process
 * group (with the secure process).
 */
import { type NetnsLab, withLab } from "../netns/harness.ts";
import { RockhopperNode } from "../netns/rockhopper_node.ts";
import { renderSwanctlConf, StrongSwanPeer } from "../interop/strongswan.ts";
import {
  LEFT_INNER,
  LEFT_LAN,
  oursNodeOptions,
  type OursSettings,
  randomPsk,
  RIGHT_INNER,
  RIGHT_LAN,
  RIGHT_OUTER,
  startOursPair,
  vethPair,
} from "./_paths.ts";

/** The row the checks load. */
export const LOAD_CHECK_PATH = "ours-aes256gcm";
const SETTINGS: OursSettings = {
  ikeSuite: "aes256gcm16-prfsha384-x25519",
  espSuite: "aes256gcm16",
  natT: "force",
};
/** Liveness interval of the loaded initiator (`<ike dpd>`). */
export const LIVENESS_SECONDS = 1;
/** Shortest load: the third peer's appliance must start and finish IKE inside it. */
export const MIN_LOAD_SECONDS = 15;
/** When the third peer starts, after the load began. */
const THIRD_PEER_DELAY_MS = 2_000;
/** Child SAs the load generator opens. */
export const CHILD_SA_COUNT = 1000;
/** Parallel `swanctl --initiate` calls (all queue on the one IKE SA). */
const INITIATE_PARALLELISM = 8;
const IPERF_PORT = 15201;
/** UDP payload per datagram: the inner packet stays below the tunnel MTU (1400). */
const UDP_PAYLOAD = 1300;

const THIRD_LINK = { right: "198.18.0.2", third: "198.18.0.3" };
const GEN_LINK = { right: "198.18.1.2", gen: "198.18.1.3" };
const THIRD_LAN = "10.3.0.0/24";
const GEN_LAN = "10.4.0.0/16";

/** What the load did to the new IKE SA and to the loaded SA's liveness checks. */
export interface LoadChecksReport {
  /** The load, in words. */
  load: string;
  load_seconds: number;
  /** What iperf3's server received, Mbit/s. */
  load_mbps: number;
  /** What iperf3's client sent, Mbit/s (the rest was dropped on the way: the load is a flood). */
  load_sent_mbps: number;
  /** Datagrams lost, percent. */
  load_lost_pct: number;
  /** IKE_SA_INIT + IKE_AUTH of the third peer, ms (null when it did not complete). */
  new_ike_sa_ms: number | null;
  /** True when that IKE SA was established before the load ended. */
  new_ike_sa_under_load: boolean;
  /** Liveness checks the loaded initiator sent while the load ran. */
  liveness_sent: number;
  /** Of those, answered (at the first try or after retransmissions). */
  liveness_answered: number;
  /** Of those, retransmitted at least once. */
  liveness_retransmitted: number;
}

/** RSS of our responder (`right`) in kB: main process and whole process group. */
export interface MemoryReport {
  idle_rss_kb: number;
  idle_group_rss_kb: number;
  /** Largest sample while the load ran. */
  load_rss_kb: number;
  load_group_rss_kb: number;
  /** With the child SAs of {@link children} installed (plus the two of left and third). */
  children_rss_kb: number | null;
  children_group_rss_kb: number | null;
  /** Child SAs from the load generator that our responder logged as installed. */
  children: number;
  /** IKE SAs they came in (1 unless charon did not reuse its IKE SA). */
  children_ike_sas: number;
  /** Child SAs of other peers up at the same time (the loaded SA, the third peer's). */
  other_child_sas: number;
  /** Seconds from the first request to the last installed child. */
  children_seconds: number | null;
}

/** Options of {@link runLoadChecks}. */
export interface LoadCheckOptions {
  /** Length of one benchmark measurement; the load lasts at least {@link MIN_LOAD_SECONDS}. */
  seconds: number;
  loadChecks: boolean;
  memory: boolean;
  log: (line: string) => void;
}

/** Resident set sizes in kB. */
export interface RssSample {
  /** The process itself. */
  main: number;
  /** Every process of its process group. */
  group: number;
}

/** VmRSS of /proc/<pid>/status in kB, or 0 when the process is gone. */
async function vmRss(pid: number | string): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * RSS of `pid` and of every process in the process group `pid` leads (the harness starts each
 * appliance as a group leader; its secure process stays in the group).
 */
export async function readRss(pid: number): Promise<RssSample> {
  const main = await vmRss(pid);
  let group = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // Fields after "(comm)": state ppid pgrp ...; comm may contain spaces.
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgrp === pid) group += await vmRss(entry.name);
    } catch { /* exited meanwhile */ }
  }
  return { main, group };
}

/** One liveness check found in an appliance's debug log. */
export interface LoggedLivenessCheck {
  /** Time of the check. */
  time: number;
  /** IKE SA tag, e.g. `#1`. */
  sa: string;
  /** Message ID of the INFORMATIONAL request. */
  messageId: number;
  /** A later request of the same SA followed (so the response arrived). */
  answered: boolean;
  retransmitted: boolean;
}

const LINE_PATTERN = /^(\S+) +\S+ +ike\[([^\]]+)\] (.*)$/;

/**
 * Liveness checks in an appliance log at debug level: a "liveness check" line followed by the
 * "sending INFORMATIONAL request N" of the same IKE SA.
 *
 * @example
 * ```ts
 * const checks = parseLivenessChecks(await left.logText());
 * const answered = checks.filter((c) => c.answered).length;
 * ```
 */
export function parseLivenessChecks(log: string): LoggedLivenessCheck[] {
  const checks: LoggedLivenessCheck[] = [];
  const pending = new Map<string, number>(); // SA tag → time of a check not yet sent
  const open = new Map<string, LoggedLivenessCheck[]>(); // SA tag → checks not yet followed
  for (const line of log.split("\n")) {
    const m = LINE_PATTERN.exec(line);
    if (m === null) continue;
    const [, timeText, sa, message] = m as unknown as [string, string, string, string];
    if (message.endsWith(": liveness check")) {
      pending.set(sa, Date.parse(timeText));
      continue;
    }
    const sent = /^sending \S+ request (\d+)/.exec(message);
    if (sent !== null) {
      const id = Number(sent[1]);
      for (const c of open.get(sa) ?? []) if (id > c.messageId) c.answered = true;
      open.set(sa, (open.get(sa) ?? []).filter((c) => !c.answered));
      const time = pending.get(sa);
      if (time !== undefined && message.startsWith("sending INFORMATIONAL")) {
        pending.delete(sa);
        const check = { time, sa, messageId: id, answered: false, retransmitted: false };
        checks.push(check);
        open.get(sa)!.push(check);
      }
      continue;
    }
    const retransmit = /^retransmit \d+ of request (\d+)/.exec(message);
    if (retransmit !== null) {
      const id = Number(retransmit[1]);
      for (const c of checks) if (c.sa === sa && c.messageId === id) c.retransmitted = true;
    }
  }
  return checks;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The time of the first log line matching `pattern`, or undefined. */
function logTime(log: string, pattern: RegExp): number | undefined {
  const line = log.split("\n").find((l) => pattern.test(l));
  return line === undefined ? undefined : Date.parse(line.split(" ")[0]!);
}

/** swanctl.conf of the generator: `base` with its one child copied into `count` children. */
export function multiplyChildren(base: string, count: number): string {
  const block = / {12}c0 \{\n[\s\S]*? {12}\}\n/.exec(base)?.[0];
  if (block === undefined) throw new SyntaxError("Cannot find child c0 in swanctl.conf");
  const children = Array.from(
    { length: count },
    (_, i) =>
      block.replace("c0 {", `c${i} {`).replace(
        /local_ts = \S+/,
        `local_ts = ${generatorAddress(i)}/32`,
      ),
  );
  return base.replace(block, children.join(""));
}

/** Inner address of the generator's `i`th child: 10.4.0.1, 10.4.0.2, … 10.4.3.250. */
export function generatorAddress(i: number): string {
  return `10.4.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** Child SAs and IKE SAs of the generator that our responder logged. */
async function countGenerated(
  right: RockhopperNode,
): Promise<{ children: number; ikeSas: number }> {
  const text = await right.logText();
  return {
    children: (text.match(/CHILD_SA installed: .* === 10\.4\./g) ?? []).length,
    ikeSas: (text.match(/IKE_SA established: .*↔ fqdn:gen\.example\.net/g) ?? []).length,
  };
}

/**
 * Builds the lab, runs the selected checks, returns their reports.
 *
 * @example
 * ```ts
 * const { loadChecks, memory } = await runLoadChecks({ seconds: 10, loadChecks: true,
 *   memory: true, log: console.error });
 * ```
 */
export async function runLoadChecks(
  options: LoadCheckOptions,
): Promise<{ loadChecks?: LoadChecksReport; memory?: MemoryReport }> {
  const loadSeconds = Math.max(MIN_LOAD_SECONDS, options.seconds);
  // Setting up 1,000 child SAs took 80–150 s on a busy 2-core machine.
  const timeoutMs = 600_000 + loadSeconds * 1000;
  return await withLab((lab) => loadLab(lab, options, loadSeconds), { timeoutMs });
}

async function loadLab(
  lab: NetnsLab,
  options: LoadCheckOptions,
  loadSeconds: number,
): Promise<{ loadChecks?: LoadChecksReport; memory?: MemoryReport }> {
  const log = options.log;
  await vethPair(lab);
  await lab.addNamespace("third");
  await lab.link("right", `${THIRD_LINK.right}/24`, "third", `${THIRD_LINK.third}/24`);
  await lab.addRoute("third", `${RIGHT_OUTER}/32`, ["via", THIRD_LINK.right]);
  if (options.memory) {
    await lab.addNamespace("gen");
    await lab.link("right", `${GEN_LINK.right}/24`, "gen", `${GEN_LINK.gen}/24`);
    await lab.addRoute("gen", `${RIGHT_OUTER}/32`, ["via", GEN_LINK.right]);
  }
  const thirdPsk = randomPsk();
  const genPsk = randomPsk();
  const psk = randomPsk();
  const { left, right, artifacts } = await startOursPair(lab, `load-${LOAD_CHECK_PATH}`, SETTINGS, {
    psk,
    left: { dpd: `${LIVENESS_SECONDS}s`, logLevel: "debug" },
    right: {
      trafficRemote: [LEFT_LAN, THIRD_LAN, GEN_LAN],
      peers: [
        ...oursNodeOptions("right", SETTINGS, psk).peers,
        { id: "fqdn:third.example.com", auto: "add", psk: thirdPsk },
        { id: "fqdn:gen.example.net", auto: "add", psk: genPsk },
      ],
    },
  });
  const rightPid = right.process!.pid;
  await delay(1_000);
  const idle = await readRss(rightPid);
  log(`bench: load checks: right idle RSS ${idle.main} kB (group ${idle.group} kB)`);

  // 2. The load, with RSS samples and (3.) the third peer during it.
  const server = lab.spawn("right", [
    "iperf3",
    "-s",
    "-1",
    "-B",
    RIGHT_INNER,
    "-p",
    String(IPERF_PORT),
  ]);
  await lab.waitForListen("right", IPERF_PORT);
  const loadStart = Date.now();
  let loadEnd = 0;
  const client = lab.exec("left", [
    "iperf3",
    "-c",
    RIGHT_INNER,
    "-B",
    LEFT_INNER,
    "-p",
    String(IPERF_PORT),
    "-u",
    "-b",
    "0",
    "-l",
    String(UDP_PAYLOAD),
    "-t",
    String(loadSeconds),
    "--json",
  ], { timeoutMs: (loadSeconds + 30) * 1000 }).finally(() => {
    loadEnd = Date.now();
  });
  client.catch(() => {}); // awaited below; a failure before that must not go unhandled
  let loaded: RssSample = { main: 0, group: 0 };
  const sampler = (async () => {
    while (loadEnd === 0) {
      const s = await readRss(rightPid);
      loaded = { main: Math.max(loaded.main, s.main), group: Math.max(loaded.group, s.group) };
      await delay(500);
    }
  })();
  let third: RockhopperNode | undefined;
  if (options.loadChecks) {
    await delay(THIRD_PEER_DELAY_MS);
    third = new RockhopperNode(lab, {
      ...oursNodeOptions("left", SETTINGS, thirdPsk),
      namespace: "third",
      listenAddress: THIRD_LINK.third,
      tunnelAddress: "10.3.0.1/24",
      trafficLocal: [THIRD_LAN],
      trafficRemote: [RIGHT_LAN],
      myId: "fqdn:third.example.com",
      peers: [{ id: "fqdn:right.example.com", address: RIGHT_OUTER, auto: "start", psk: thirdPsk }],
    });
    artifacts.add("third", third);
    log("bench: load checks: starting the third peer under load");
    await third.start(60_000);
    await third.waitForLog(/IKE_SA established/, (loadSeconds + 30) * 1000).catch((e) => {
      log(`bench: load checks: ${(e as Error).message.split("\n")[0]}`);
    });
  }
  const result = await client;
  await sampler;
  await server.kill();
  type UdpSum = { bits_per_second?: number; lost_percent?: number };
  let sum: { sent?: UdpSum | undefined; received?: UdpSum | undefined } = {};
  try {
    const report = JSON.parse(result.stdout) as {
      end?: { sum_sent?: UdpSum; sum_received?: UdpSum };
    };
    sum = { sent: report.end?.sum_sent, received: report.end?.sum_received };
  } catch {
    log(`bench: load checks: unparsable iperf3 output: ${result.stdout.slice(0, 200)}`);
  }
  const loadMbps = (sum.received?.bits_per_second ?? 0) / 1e6;
  const sentMbps = (sum.sent?.bits_per_second ?? 0) / 1e6;
  const lostPercent = sum.received?.lost_percent ?? 0;
  log(
    `bench: load checks: load sent ${sentMbps.toFixed(0)} Mbit/s, received ` +
      `${loadMbps.toFixed(0)} Mbit/s (${lostPercent.toFixed(0)} % lost), right RSS max ` +
      `${loaded.main} kB`,
  );

  const reports: { loadChecks?: LoadChecksReport; memory?: MemoryReport } = {};
  if (options.loadChecks) {
    // One more interval so that the last check of the load has a successor (or a retransmit).
    await delay((2 * LIVENESS_SECONDS + 1) * 1000);
    const thirdLog = await third!.logText();
    const initiating = logTime(thirdLog, /initiating IKE_SA to/);
    const established = logTime(thirdLog, /IKE_SA established/);
    const during = parseLivenessChecks(await left.logText())
      .filter((c) => c.time >= loadStart && c.time <= loadEnd);
    reports.loadChecks = {
      load: `iperf3 UDP ${LEFT_INNER} → ${RIGHT_INNER}, unlimited rate, ${UDP_PAYLOAD}-byte ` +
        `datagrams, over ${LOAD_CHECK_PATH}`,
      load_seconds: loadSeconds,
      load_mbps: Math.round(loadMbps),
      load_sent_mbps: Math.round(sentMbps),
      load_lost_pct: Math.round(lostPercent),
      new_ike_sa_ms: initiating !== undefined && established !== undefined
        ? established - initiating
        : null,
      new_ike_sa_under_load: established !== undefined && established <= loadEnd,
      liveness_sent: during.length,
      liveness_answered: during.filter((c) => c.answered).length,
      liveness_retransmitted: during.filter((c) => c.retransmitted).length,
    };
  }

  if (options.memory) {
    // 5. 1,000 child SAs from charon in one IKE SA.
    const gen = new StrongSwanPeer(lab, {
      namespace: "gen",
      localAddress: GEN_LINK.gen,
      remoteAddress: RIGHT_OUTER,
      localId: "gen.example.net",
      remoteId: "right.example.com",
      psk: genPsk,
      ikeProposals: SETTINGS.ikeSuite,
      espProposals: SETTINGS.espSuite,
      localTs: `${generatorAddress(0)}/32`,
      remoteTs: RIGHT_LAN,
      childName: "c0",
      logLevels: { ike: 1, chd: 1, cfg: 1, knl: 0, net: 0 },
      // Each parallel `swanctl --initiate` holds one of charon's worker threads until its child
      // is up; with the default 16, received responses can wait in charon's job queue behind
      // them until a blocked initiate times out (seen: a response processed 60 s late).
      extraCharonConfig: `    threads = ${4 * INITIATE_PARALLELISM}\n`,
    });
    artifacts.add("gen", gen);
    // kernel-libipsec routes each child with a source address inside its local selector, so
    // every 10.4.x.y must exist (LAB-FACTS); one `ip -batch` adds them all.
    const batch = `${await Deno.makeTempFile({ prefix: `${lab.prefix}-gen-addresses-` })}`;
    lab.onCleanup(() => Deno.remove(batch).catch(() => {}));
    await Deno.writeTextFile(
      batch,
      Array.from(
        { length: CHILD_SA_COUNT },
        (_, i) => `addr add ${generatorAddress(i)}/32 dev lo\n`,
      )
        .join(""),
    );
    await lab.execChecked("gen", ["ip", "-batch", batch]);
    await gen.start();
    await Deno.writeTextFile(
      `${gen.dir}/swanctl/swanctl.conf`,
      multiplyChildren(renderSwanctlConf(gen.options), CHILD_SA_COUNT),
    );
    await gen.loadConfig();
    const started = Date.now();
    await gen.initiate("c0", 30);
    log(`bench: memory: first child up, initiating ${CHILD_SA_COUNT - 1} more`);
    await lab.exec("gen", [
      "sh",
      "-c",
      `seq 1 ${CHILD_SA_COUNT - 1} | xargs -P ${INITIATE_PARALLELISM} -I{} ` +
      `swanctl --initiate --child c{} --timeout 60 --uri "$0" >/dev/null 2>&1; true`,
      gen.viciUri,
    ], {
      timeoutMs: 480_000,
      env: { STRONGSWAN_CONF: `${gen.dir}/strongswan.conf` },
    });
    const deadline = Date.now() + 60_000;
    let generated = await countGenerated(right);
    while (generated.children < CHILD_SA_COUNT && Date.now() < deadline) {
      await delay(500);
      generated = await countGenerated(right);
    }
    const children = generated.children;
    const childrenSeconds = (Date.now() - started) / 1000;
    await delay(2_000);
    const withChildren = await readRss(rightPid);
    log(
      `bench: memory: ${children} child SAs (${generated.ikeSas} IKE SA) in ` +
        `${childrenSeconds.toFixed(1)} s, right RSS ` +
        `${withChildren.main} kB (group ${withChildren.group} kB)`,
    );
    reports.memory = {
      idle_rss_kb: idle.main,
      idle_group_rss_kb: idle.group,
      load_rss_kb: loaded.main,
      load_group_rss_kb: loaded.group,
      children_rss_kb: children > 0 ? withChildren.main : null,
      children_group_rss_kb: children > 0 ? withChildren.group : null,
      children,
      children_ike_sas: generated.ikeSas,
      other_child_sas: third === undefined ? 1 : 2,
      children_seconds: children > 0 ? Math.round(childrenSeconds * 10) / 10 : null,
    };
  }
  artifacts.passed();
  return reports;
}

function mb(kb: number | null): string {
  return kb === null ? "–" : `${(kb / 1024).toFixed(1)} MB`;
}

/** Printed lines of the load checks. */
export function formatLoadChecks(r: LoadChecksReport): string[] {
  return [
    `load checks (${r.load}, ${r.load_seconds} s; sent ${r.load_sent_mbps} Mbit/s, received ` +
    `${r.load_mbps} Mbit/s, ${r.load_lost_pct} % lost):`,
    `  new IKE SA from a third peer (IKE_SA_INIT + IKE_AUTH): ${
      r.new_ike_sa_ms === null ? "did not complete" : `${r.new_ike_sa_ms} ms`
    }${r.new_ike_sa_under_load ? ", established under load" : ", NOT established under load"}`,
    `  liveness checks on the loaded SA (every ${LIVENESS_SECONDS} s): ${r.liveness_answered} of ` +
    `${r.liveness_sent} answered, ${r.liveness_retransmitted} needed retransmission`,
  ];
}

/** Printed lines of the memory figures. */
export function formatMemory(r: MemoryReport): string[] {
  return [
    "memory (RSS of our responder: main process / with its secure process):",
    `  ${"idle, 1 SA:".padEnd(24)} ${mb(r.idle_rss_kb)} / ${mb(r.idle_group_rss_kb)}`,
    `  ${"1 SA under load (max):".padEnd(24)} ${mb(r.load_rss_kb)} / ${mb(r.load_group_rss_kb)}`,
    `  ${`${r.children} child SAs:`.padEnd(24)} ${mb(r.children_rss_kb)} / ` +
    `${
      mb(r.children_group_rss_kb)
    } (${r.children_ike_sas} IKE SA; ${r.other_child_sas} more child SA(s) up` +
    (r.children_seconds === null ? ")" : `; set up in ${r.children_seconds} s)`),
  ];
}
