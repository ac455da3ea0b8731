/**
 * The anti-replay window under reordering and duplication, end to end: gw1 (198.51.100.1,
 * LAN 10.1.0.0/24, initiator) ⇄ relay (198.51.100.2 | 203.0.113.2) ⇄ gw2 (203.0.113.1, LAN
 * 10.2.0.0/24), ESP in UDP 4500 (nat_t="force"), `<esp replay_window="32">`. The relay
 * (replay_relay_agent.ts) duplicates, reorders within the window and delays beyond it the ESP
 * from gw1 on a fixed schedule and logs the sequence numbers it forwarded, in order. An
 * independent model of the RFC 4303 §3.4.3 window run over that log says which packets gw2 must
 * accept; gw2's `drop_replay` must grow by exactly the model's drops, the packets written to its
 * TUN by exactly its acceptances, the ping flood must get exactly the accepted echo requests
 * answered (no duplicate replies), and a TCP stream through the same relay must arrive intact.
 * Runs with the worker data plane and with `workers="0"` (the main-thread path).
 */
import { assert, assertEquals } from "../_assert.ts";
import { hashPassword } from "../../lib/auth/mod.ts";
import { NetnsError, type NetnsLab, type NetnsProcess, requireRoot, withLab } from "./harness.ts";
import {
  denoExecutable,
  FailureArtifacts,
  GW1_ID,
  GW2_ID,
  REPO_ROOT,
  RockhopperNode,
} from "./rockhopper_node.ts";
import { tcpTransfer } from "./traffic.ts";

const AGENT_PATH = new URL("./replay_relay_agent.ts", import.meta.url).pathname;
const REPLAY_WINDOW = 32;
const PING_COUNT = 2000;
const TRANSFER_MIB = 20;

function randomText(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

/** The relay's closing record (see replay_relay_agent.ts). */
interface RelayReport {
  event: "done";
  received: number;
  forwarded: number;
  counts: Record<string, number>;
  spis: string[];
  marks: number[];
  sequence: number[];
}

/** Verdicts of the window model over sequence numbers in arrival order. */
interface ModelResult {
  accepted: boolean[];
  drops: number;
  /** Accepted although a higher sequence number had been accepted before. */
  acceptedLate: number;
}

/**
 * RFC 4303 §3.4.3 anti-replay as plain set arithmetic (deliberately not lib's bitmap): a packet
 * is accepted when above the highest seen, or within the `window` newest numbers and not seen.
 * Every packet is authentic here, so each accepted one updates the window.
 */
function replayModel(sequence: readonly number[], window: number): ModelResult {
  let highest = 0;
  const seen = new Set<number>();
  const accepted: boolean[] = [];
  let drops = 0;
  let acceptedLate = 0;
  for (const seq of sequence) {
    const ok = seq > highest || (seq > highest - window && seq > 0 && !seen.has(seq));
    accepted.push(ok);
    if (!ok) {
      drops++;
      continue;
    }
    if (seq < highest) acceptedLate++;
    highest = Math.max(highest, seq);
    seen.add(seq);
  }
  return { accepted, drops, acceptedLate };
}

Deno.test("the replay model drops duplicates and packets older than the window only", () => {
  const r = replayModel([1, 2, 2, 5, 3, 40, 4, 9, 8, 9, 41], 32);
  assertEquals(r.accepted, [true, true, false, true, true, true, false, true, false, false, true]);
  assertEquals([r.drops, r.acceptedLate], [4, 2]);
});

/** Reads JSON lines of the relay's stdout. */
class RelayLines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(process: NetnsProcess) {
    if (process.stdout === null) throw new NetnsError("Cannot read relay output: not piped");
    this.#reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  async next(event: string): Promise<Record<string, unknown>> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline).trim();
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line === "") continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        if (record.event === "error") throw new NetnsError(`Relay failed: ${record.message}`);
        if (record.event === event) return record;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new NetnsError(`Relay exited before "${event}"`);
      this.#buffer += value;
    }
  }
}

/** `ctl <args> --json` inside `ns`, parsed. */
async function ctlJson(
  lab: NetnsLab,
  ns: string,
  password: string,
  args: string[],
): Promise<Record<string, unknown>> {
  const r = await lab.exec(ns, [
    denoExecutable(),
    "run",
    "--allow-all",
    "--config",
    `${REPO_ROOT}deno.json`,
    `${REPO_ROOT}main.ts`,
    "ctl",
    ...args,
    "--json",
  ], {
    env: { RHP_PASSWORD: password, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    timeoutMs: 30_000,
  });
  assertEquals(r.code, 0, `ctl ${args.join(" ")} in ${ns}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The realm's inbound data-path counters (`global_statistics_esp`) as numbers. */
async function inboundCounters(
  lab: NetnsLab,
  ns: string,
  password: string,
): Promise<Record<string, number>> {
  const stats = await ctlJson(lab, ns, password, ["stats"]);
  const esp = stats.esp as { realm: { inbound: Record<string, string>[] }[] };
  assertEquals(esp.realm.length, 1, "one running realm");
  return Object.fromEntries(
    Object.entries(esp.realm[0]!.inbound[0]!).map(([k, v]) => [k, Number(v)]),
  );
}

/** `rx_dropped` of the child SA with inbound SPI `spiIn` (`status_vpn`). */
async function childRxDropped(
  lab: NetnsLab,
  ns: string,
  password: string,
  spiIn: string,
): Promise<number> {
  const status = await ctlJson(lab, ns, password, ["status"]);
  const vpns = status.vpn as { child_sa: Record<string, string>[] }[];
  const children = vpns.flatMap((v) => v.child_sa);
  const child = children.find((c) => c.spi_in === spiIn); // 8 lower-case hex digits
  assert(child !== undefined, `no child SA with inbound SPI ${spiIn}: ${JSON.stringify(status)}`);
  return Number(child.rx_dropped);
}

/** `RcvbufErrors` of the Udp MIB of namespace `ns`: datagrams its sockets had no room for. */
async function udpReceiveBufferErrors(lab: NetnsLab, ns: string): Promise<number> {
  const { stdout } = await lab.execChecked(ns, ["cat", "/proc/net/snmp"]);
  const [names, values] = stdout.split("\n").filter((l) => l.startsWith("Udp:")).map((l) =>
    l.split(/\s+/)
  );
  return Number(values![names!.indexOf("RcvbufErrors")]);
}

/** Runs ping in `ns`; the summary's transmitted, received and duplicate counts. */
async function pingFlood(
  lab: NetnsLab,
  ns: string,
  from: string,
  target: string,
  count: number,
): Promise<{ transmitted: number; received: number; duplicates: number }> {
  const r = await lab.exec(
    ns,
    ["ping", "-n", "-q", "-c", String(count), "-i", "0.002", "-W", "2", "-I", from, target],
    { timeoutMs: count * 10 + 30_000 },
  );
  const summary = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?/.exec(
    r.stdout,
  );
  assert(summary !== null, `no ping summary: ${r.stdout}${r.stderr}`);
  return {
    transmitted: Number(summary[1]),
    received: Number(summary[2]),
    duplicates: Number(summary[3] ?? 0),
  };
}

/** `workers` undefined: the appliance's default data plane (workers, offloads on). */
async function replayThroughRelay(lab: NetnsLab, workers: number | undefined): Promise<void> {
  const psk = randomText();
  const password = randomText();
  const hash = await hashPassword(password);
  await lab.addNamespace("gw1");
  await lab.addNamespace("relay");
  await lab.addNamespace("gw2");
  await lab.link("gw1", "198.51.100.1/24", "relay", "198.51.100.2/24");
  await lab.link("relay", "203.0.113.2/24", "gw2", "203.0.113.1/24");
  const common = {
    tunnelInterface: "rhp1",
    dpd: "0",
    natT: "force" as const,
    ...(workers === undefined ? {} : { dataPlaneWorkers: workers }),
    replayWindow: REPLAY_WINDOW,
    webUsers: [{ user: "admin", hash, realm: "any" as const }],
  };
  const gw1 = new RockhopperNode(lab, {
    ...common,
    namespace: "gw1",
    listenAddress: "198.51.100.1",
    tunnelAddress: "10.1.0.1/24",
    trafficLocal: ["10.1.0.0/24"],
    trafficRemote: ["10.2.0.0/24"],
    myId: GW1_ID,
    peers: [{ id: GW2_ID, address: "198.51.100.2", auto: "start", psk }],
  });
  const gw2 = new RockhopperNode(lab, {
    ...common,
    namespace: "gw2",
    listenAddress: "203.0.113.1",
    tunnelAddress: "10.2.0.1/24",
    trafficLocal: ["10.2.0.0/24"],
    trafficRemote: ["10.1.0.0/24"],
    myId: GW2_ID,
    peers: [{ id: GW1_ID, auto: "add", psk }],
  });
  const artifacts = new FailureArtifacts(lab, `replay-relay-${workers ?? "default"}`);
  artifacts.add("gw1", gw1);
  artifacts.add("gw2", gw2);

  const relay = lab.spawn("relay", [
    denoExecutable(),
    "run",
    "--allow-net",
    "--config",
    `${REPO_ROOT}deno.json`,
    AGENT_PATH,
    "198.51.100.2",
    "203.0.113.2",
    "203.0.113.1",
  ], { pipeStdout: true, env: { DENO_NO_UPDATE_CHECK: "1" } });
  const relayLines = new RelayLines(relay);
  await relayLines.next("ready");

  await gw2.start();
  await gw1.start();
  const running: number[] = [];
  for (const gw of [gw1, gw2]) {
    if (workers === 0) break;
    running.push(Number((await gw.waitForLog(/dispatch data plane: (\d+) worker\(s\)/))[1]));
  }
  assert(running.every((n) => n > 0), "the worker data plane runs");
  const child1 = await gw1.waitForChildSa();
  const child2 = await gw2.waitForChildSa();
  assert(child1.udpEncapsulated && child2.udpEncapsulated, "ESP runs in UDP 4500 via the relay");
  assertEquals(child1.spiOut, child2.spiIn);
  const gw2Before = await inboundCounters(lab, "gw2", password);
  const gw1Before = await inboundCounters(lab, "gw1", password);
  const overflowBefore = await udpReceiveBufferErrors(lab, "gw2");

  // Phase 1: ping flood gw1 → gw2; the relay shuffles the echo requests only.
  const ping = await pingFlood(lab, "gw1", "10.1.0.1", "10.2.0.1", PING_COUNT);
  Deno.kill(relay.pid, "SIGUSR1");
  const pingMark = Number((await relayLines.next("mark")).forwarded);

  // Phase 2: a checked TCP stream gw1 → gw2 through the same schedule.
  const transfer = await tcpTransfer(lab, {
    from: "gw1",
    to: "gw2",
    fromAddress: "10.1.0.1",
    toAddress: "10.2.0.1",
    megabytes: TRANSFER_MIB,
    timeoutMs: 120_000,
  });
  assertEquals(transfer.bytes, TRANSFER_MIB * 1024 * 1024);
  assert(transfer.sha256Match, "the TCP stream arrived intact (SHA-256)");

  Deno.kill(relay.pid, "SIGTERM");
  const report = await relayLines.next("done") as unknown as RelayReport;
  await relay.status;
  const gw2After = await inboundCounters(lab, "gw2", password);
  const gw1After = await inboundCounters(lab, "gw1", password);
  const overflow = await udpReceiveBufferErrors(lab, "gw2") - overflowBefore;
  const delta = (name: string) => gw2After[name]! - gw2Before[name]!;

  const model = replayModel(report.sequence, REPLAY_WINDOW);
  const pingAccepted = model.accepted.slice(0, pingMark).filter((a) => a).length;
  const accepted = report.sequence.length - model.drops;
  console.log(
    `replay relay (${workers === 0 ? "main thread" : `${running[0]} workers`}): relay ${
      JSON.stringify(report.counts)
    }, ` +
      `${report.received} ESP in, ${report.forwarded} out (${pingMark} in the ping phase); ` +
      `model: ${model.drops} drops, ${accepted} accepted (${model.acceptedLate} out of order); ` +
      `gw2: drop_replay +${delta("drop_replay")}, rx_packets +${delta("rx_packets")}, ` +
      `tx_packets +${delta("tx_packets")}; ping ${ping.transmitted}/${ping.received}` +
      ` (+${ping.duplicates} dup); TCP ${transfer.mbps.toFixed(0)} Mbit/s`,
  );

  // The relay did what the test is about: one SA, and every kind of disorder, many times.
  assertEquals(report.spis, [child2.spiIn], "all ESP toward gw2 was on gw2's inbound SA");
  for (const kind of ["duplicate", "lateDuplicate", "reorder", "beyondWindow"]) {
    assert(report.counts[kind]! >= 20, `the relay applied "${kind}" only ${report.counts[kind]}×`);
  }
  // What the relay meant, in the model's terms (a packet released early by an idle flush may
  // escape its category): in-window reorders are accepted late, the rest dropped.
  const c = report.counts;
  assert(model.acceptedLate >= c.reorder!, `${model.acceptedLate} late acceptances`);
  assert(
    model.drops >= c.duplicate! + c.lateDuplicate! + c.beyondWindow! +
        c.lateDuplicateBeyondWindow! - c.releasedEarly!,
    `only ${model.drops} drops in the model`,
  );
  assertEquals(report.forwarded, report.sequence.length);
  assertEquals(report.marks, [pingMark]);

  // Every datagram the relay forwarded reached gw2's data path (none lost in a kernel), so
  // the model saw exactly what gw2's window saw.
  assertEquals(
    delta("rx_packets"),
    report.forwarded,
    `gw2 received every forwarded ESP datagram (its UDP RcvbufErrors grew by ${overflow})`,
  );
  assertEquals(delta("drop_replay"), model.drops, "gw2's replay drops are the model's");
  assertEquals(delta("tx_packets"), accepted, "gw2 wrote every accepted packet to its TUN");
  for (const [name, value] of Object.entries(gw2After)) {
    if (name.startsWith("drop_") && name !== "drop_replay") {
      assertEquals(value, gw2Before[name], `gw2 ${name} stays unchanged`);
    }
  }
  assertEquals(
    await childRxDropped(lab, "gw2", password, child2.spiIn),
    gw2After.drop_replay,
    "the child SA's rx_dropped is its replay drops",
  );
  assertEquals(gw1After.drop_replay, gw1Before.drop_replay, "nothing replayed toward gw1");

  // Exactly the accepted echo requests were answered, once each.
  assertEquals(ping.transmitted, PING_COUNT);
  assertEquals(ping.received, pingAccepted, "ping replies = echo requests the model accepts");
  assertEquals(ping.duplicates, 0, "no duplicate got through");

  for (const gw of [gw1, gw2]) {
    const log = await gw.logText();
    assert(!/data-plane worker .*failed|data path failed/.test(log), "no worker failure logged");
  }
  await gw1.stop();
  await gw2.stop();
  artifacts.passed();
}

for (const workers of [undefined, 0]) {
  const path = workers === 0 ? "the main-thread data path" : "the worker data plane";
  Deno.test({
    name: `${path} accepts and drops reordered and duplicated ESP exactly as the replay window ` +
      `says`,
    ignore: requireRoot(),
    fn: () => withLab((lab) => replayThroughRelay(lab, workers), { timeoutMs: 240_000 }),
  });
}
