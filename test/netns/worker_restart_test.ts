/**
 * A data-plane worker crash under traffic: gw1 and gw2 (gatewayPair) run two workers each;
 * gw1's workers are armed with the debug switch CRASH_TEST_ENV (each crashes once after 40
 * packets). A ping loop from gw1's LAN address to gw2's runs through the crash: the pool
 * restarts the worker with its SAs, the loop loses at most a short run of pings, and the
 * tunnel afterwards carries every ping and a checked TCP stream — its sequence numbers
 * continued (a repeated one would be a replay drop at gw2).
 */
import { assert, assertEquals } from "../_assert.ts";
import { CRASH_TEST_ENV } from "../../lib/dispatch/mod.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { randomPsk } from "./lifecycle_checks.ts";
import { tcpTransfer } from "./traffic.ts";
import { FailureArtifacts, gatewayPair } from "./rockhopper_node.ts";

const WORKERS = 2;
const CRASH_AFTER_PACKETS = 40;
const PINGS = 100;
const PING_INTERVAL_S = 0.1;
/** The longest run of lost pings accepted: 3 s at 10 pings a second. */
const MAX_LOST_IN_A_ROW = 30;

/**
 * The echo replies of `ping` by sequence number (ping prints one line per reply, late ones
 * too) and the slowest reply's round trip in ms (packets held in a TUN queue while its worker
 * restarts come late, not lost).
 */
async function pingLoop(lab: NetnsLab): Promise<{ received: Set<number>; slowestMs: number }> {
  const result = await lab.exec("gw1", [
    "ping",
    "-n",
    "-c",
    String(PINGS),
    "-i",
    String(PING_INTERVAL_S),
    "-W",
    "1",
    "-I",
    "10.1.0.1",
    "10.2.0.1",
  ], { timeoutMs: (PINGS * PING_INTERVAL_S + 10) * 1000 });
  const received = new Set([...result.stdout.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
  const times = [...result.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { received, slowestMs: Math.max(0, ...times) };
}

/** The longest run of sequence numbers 1..PINGS missing from `received`. */
function longestGap(received: Set<number>): number {
  let longest = 0;
  let run = 0;
  for (let seq = 1; seq <= PINGS; seq++) {
    run = received.has(seq) ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  return longest;
}

async function crashUnderTraffic(lab: NetnsLab): Promise<void> {
  const common = { dataPlaneWorkers: WORKERS, natT: "auto" as const };
  const { gw1, gw2 } = await gatewayPair(lab, randomPsk(), {
    gw1: { ...common, env: { [CRASH_TEST_ENV]: String(CRASH_AFTER_PACKETS) } },
    gw2: common,
  });
  const artifacts = new FailureArtifacts(lab, "worker-restart");
  artifacts.add("gw1", gw1);
  artifacts.add("gw2", gw2);
  await gw2.start();
  await gw1.start();
  await gw1.waitForLog(new RegExp(`${CRASH_TEST_ENV}=${CRASH_AFTER_PACKETS}: every data-plane`));
  await gw1.waitForChildSa();
  await gw2.waitForChildSa();

  const { received, slowestMs } = await pingLoop(lab);
  const log1 = await gw1.logText();
  const crashes = log1.match(/warn +dispatch data-plane worker \d crashed: /g) ?? [];
  const back = log1.match(
    /info +dispatch data-plane worker \d is back: 1 realm\(s\), \d+ inbound and 1 outbound SA\(s\) re-installed/g,
  ) ?? [];
  assert(crashes.length >= 1, `a worker crashed during the ping loop:\n${log1.slice(-3000)}`);
  assertEquals(back.length, crashes.length, "every crashed worker came back with its SAs");
  assert(!/error +dispatch data-plane worker/.test(log1), "no worker given up");
  const gap = longestGap(received);
  console.log(
    `worker restart: ${crashes.length} crash(es), ${received.size}/${PINGS} pings answered, longest gap ${gap} pings (${
      (gap * PING_INTERVAL_S).toFixed(1)
    } s), slowest reply ${slowestMs.toFixed(0)} ms`,
  );
  assert(gap <= MAX_LOST_IN_A_ROW, `at most ${MAX_LOST_IN_A_ROW} pings lost in a row, not ${gap}`);
  assert(received.has(PINGS), "the last ping of the loop was answered");

  // Afterwards the tunnel works as before: every ping, and a checked stream both ways' ACKs.
  assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 10 }), 10);
  assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 10 }), 10);
  const tunBefore = await lab.interfaceCounters("gw2", "rhp1");
  const transfer = await tcpTransfer(lab, {
    from: "gw1",
    to: "gw2",
    fromAddress: "10.1.0.1",
    toAddress: "10.2.0.1",
    megabytes: 20,
    timeoutMs: 60_000,
  });
  assertEquals(transfer.bytes, 20 * 1024 * 1024);
  assert(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");
  const tunAfter = await lab.interfaceCounters("gw2", "rhp1");
  assert(
    tunAfter.rxBytes - tunBefore.rxBytes >= transfer.bytes,
    "the stream reached gw2 through its TUN",
  );
  // Sequence numbers reused after the restart would be replay drops in gw2, failing the pings
  // and the stream above (gw2's drop_replay counter is not read here).
  const log2 = await gw2.logText();
  assert(!/data-plane worker \d crashed/.test(log2), "gw2 never crashed");
  artifacts.passed();
}

Deno.test({
  name: "a ping loop survives a data-plane worker crash and the tunnel keeps working",
  ignore: requireRoot(),
  fn: () => withLab(crashUnderTraffic, { timeoutMs: 120_000 }),
});
