/**
 * TUN offloads end to end (needs root): a relay process (offload_relay_agent.ts) holds two TUN
 * devices, one moved into namespace A (10.77.0.1) and one into namespace B (10.77.0.2), and
 * relays between them. With offloads on, A's kernel hands the relay TCP super packets
 * (GSO, up to 64 KiB), the relay splits them into MSS segments (GsoSplitter), coalesces them
 * again (GroCoalescer) and writes super packets into B. A 50 MiB TCP transfer A → B must
 * arrive intact (SHA-256), super packets must have been read and coalesced writes accepted,
 * and neither kernel may count a TCP checksum error. With offloads on, a further 20 MiB go
 * over IPv6 (TCPV6 super packets), and 5 MiB with an MSS of 100 (B's route advertises it):
 * super packets of more segments than the relay's output holds, split in rounds. The relay's throughput (iperf3, 3 s)
 * with offloads on, split-only and off is printed for the record; no timing is asserted.
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, type NetnsProcess, requireRoot, withLab } from "./harness.ts";
import { iperf3, tcpTransfer } from "./traffic.ts";

const AGENT = new URL("./offload_relay_agent.ts", import.meta.url).pathname;
const A_ADDRESS = "10.77.0.1";
const B_ADDRESS = "10.77.0.2";
const A_ADDRESS6 = "fd77::1";
const B_ADDRESS6 = "fd77::2";
const TRANSFER_MIB = 50;
const TRANSFER6_MIB = 20;

interface SideReport {
  framesRead: number;
  /** Bytes of the frames read, without the virtio_net_hdr. */
  bytesRead: number;
  superFramesRead: number;
  superFramesReadV6: number;
  maxFrameLength: number;
  maxGsoSize: number;
  minGsoSize: number;
  splitContinuations: number;
  packetsWritten: number;
  superFramesWritten: number;
  superFramesAccepted: number;
  maxWrittenLength: number;
  writeFailures: number;
  dropped: number;
  split: Record<string, number>;
  coalesce: Record<string, number>;
  tunOut: Record<string, number>;
}

interface RelayReport {
  event: string;
  mode: string;
  seconds: number;
  busySeconds: number;
  aToB: SideReport;
  bToA: SideReport;
  message?: string;
}

/** Reads JSON lines of the relay's stdout. */
class RelayLines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(process: NetnsProcess) {
    this.#reader = process.stdout!.pipeThrough(new TextDecoderStream()).getReader();
  }

  async next(event: string): Promise<RelayReport> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline).trim();
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line === "") continue;
        const record = JSON.parse(line) as RelayReport;
        if (record.event === "error") throw new Error(`Relay failed: ${record.message}`);
        if (record.event === event) return record;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`Relay exited before "${event}"`);
      this.#buffer += value;
    }
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** `InCsumErrors` of the Tcp MIB of namespace `ns`. */
async function tcpChecksumErrors(lab: NetnsLab, ns: string): Promise<number> {
  const { stdout } = await lab.execChecked(ns, ["cat", "/proc/net/snmp"]);
  const lines = stdout.split("\n").filter((l) => l.startsWith("Tcp:"));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf("InCsumErrors")]);
}

interface ModeResult {
  report: RelayReport;
  transferMbps: number;
  sha256Match: boolean;
  iperfMbps: number;
  checksumErrors: number;
  /** IPv6 transfer (mode "on" only). */
  sha256MatchV6?: boolean;
  /** Transfer at MSS 100 (mode "on" only). */
  sha256MatchTinyMss?: boolean;
}

/** Starts the relay in `mode`, runs the checked transfer and iperf3, stops the relay. */
async function runMode(lab: NetnsLab, mode: "on" | "split" | "off"): Promise<ModeResult> {
  const errorsBefore = await tcpChecksumErrors(lab, "a") + await tcpChecksumErrors(lab, "b");
  const stderrFile = await Deno.makeTempFile({ prefix: `rht-offload-${mode}-` });
  const relay = lab.spawn("relay", [
    Deno.execPath(),
    "run",
    "--quiet",
    "--allow-ffi",
    "--allow-run",
    "--allow-read",
    AGENT,
    mode,
    lab.nsName("a"),
    lab.nsName("b"),
  ], { pipeStdout: true, stderrFile });
  const lines = new RelayLines(relay);
  try {
    await lines.next("ready");
    const transfer = await tcpTransfer(lab, {
      from: "a",
      to: "b",
      fromAddress: A_ADDRESS,
      toAddress: B_ADDRESS,
      megabytes: TRANSFER_MIB,
      timeoutMs: 120_000,
    });
    const transfer6 = mode !== "on" ? undefined : await tcpTransfer(lab, {
      from: "a",
      to: "b",
      fromAddress: A_ADDRESS6,
      toAddress: B_ADDRESS6,
      megabytes: TRANSFER6_MIB,
      port: 15002,
      timeoutMs: 120_000,
    });
    const iperfMbps = await iperf3(lab, {
      server: "b",
      client: "a",
      serverAddress: B_ADDRESS,
      clientAddress: A_ADDRESS,
      seconds: 3,
    });
    let tinyMss: boolean | undefined;
    if (mode === "on") {
      await lab.execChecked("b", [
        "ip",
        "route",
        "replace",
        "10.77.0.0/24",
        "dev",
        "rhoffb0",
        "advmss",
        "100",
      ]);
      tinyMss = (await tcpTransfer(lab, {
        from: "a",
        to: "b",
        fromAddress: A_ADDRESS,
        toAddress: B_ADDRESS,
        megabytes: 5,
        port: 15003,
        timeoutMs: 120_000,
      })).sha256Match;
    }
    const done = lines.next("done");
    await relay.kill(5_000);
    const report = await done;
    const errorsAfter = await tcpChecksumErrors(lab, "a") + await tcpChecksumErrors(lab, "b");
    const result: ModeResult = {
      report,
      transferMbps: transfer.mbps,
      sha256Match: transfer.sha256Match,
      iperfMbps,
      checksumErrors: errorsAfter - errorsBefore,
    };
    if (transfer6 !== undefined) result.sha256MatchV6 = transfer6.sha256Match;
    if (tinyMss !== undefined) result.sha256MatchTinyMss = tinyMss;
    return result;
  } catch (e) {
    const stderr = await Deno.readTextFile(stderrFile).catch(() => "");
    throw new Error(`${e instanceof Error ? e.message : e} (relay stderr: ${stderr.trim()})`);
  } finally {
    await lines.close();
    await relay.kill();
    await Deno.remove(stderrFile).catch(() => {});
  }
}

Deno.test({
  name: "TUN offloads: split and coalesced super packets carry a checked TCP transfer",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("relay");
      await lab.addNamespace("a");
      await lab.addNamespace("b");
      const results: Record<string, ModeResult> = {};
      for (const mode of ["on", "split", "off"] as const) results[mode] = await runMode(lab, mode);

      for (const [mode, r] of Object.entries(results)) {
        const { aToB, bToA } = r.report;
        console.log(
          `offload relay ${mode.padEnd(5)}: iperf3 ${r.iperfMbps.toFixed(0)} Mbit/s, ` +
            `${TRANSFER_MIB} MiB transfer ${r.transferMbps.toFixed(0)} Mbit/s; ` +
            `A→B frames read ${aToB.framesRead} (super ${aToB.superFramesRead}, IPv6 ` +
            `${aToB.superFramesReadV6}, max ` +
            `${aToB.maxFrameLength} B, gso_size ≤ ${aToB.maxGsoSize}), written ` +
            `${aToB.packetsWritten} (super ${aToB.superFramesAccepted}/${aToB.superFramesWritten},` +
            ` max ${aToB.maxWrittenLength} B); smallest gso_size ${aToB.minGsoSize}, split rounds ` +
            `${aToB.splitContinuations}; B→A frames ${bToA.framesRead}; relay busy ` +
            `${r.report.busySeconds.toFixed(1)} of ${r.report.seconds.toFixed(1)} s`,
        );
        assert(r.sha256Match, `${mode}: the transfer arrived intact`);
        assert(
          aToB.bytesRead >= TRANSFER_MIB * 1024 * 1024,
          `${mode}: the transfer crossed the relay (${aToB.bytesRead} bytes read A→B)`,
        );
        assert(bToA.framesRead > 0, `${mode}: the ACKs crossed the relay`);
        assertEquals(r.checksumErrors, 0, `${mode}: no TCP checksum errors in A or B`);
        for (const side of [aToB, bToA]) {
          assertEquals(
            side.dropped,
            0,
            `${mode}: no frame refused by the splitter (${JSON.stringify(side.split)})`,
          );
          assertEquals(side.writeFailures, 0, `${mode}: every write accepted`);
          assertEquals(side.coalesce.checksumInvalid ?? 0, 0, `${mode}: split checksums verify`);
        }
      }

      const on = results.on!.report.aToB;
      assert(on.superFramesRead > 0, "the kernel handed over super packets");
      assertEquals(results.on!.sha256MatchV6, true, "the IPv6 transfer arrived intact");
      assert(on.superFramesReadV6 > 0, "TCPV6 super packets too");
      assert(on.maxFrameLength > 1500 + 10, `a frame beyond the MTU (${on.maxFrameLength})`);
      assert(on.maxGsoSize > 0 && on.maxGsoSize <= 1460, `gso_size ${on.maxGsoSize}`);
      assertEquals(results.on!.sha256MatchTinyMss, true, "the MSS 100 transfer arrived intact");
      // MSS 100 less 12 bytes of timestamp option.
      assert(on.minGsoSize > 0 && on.minGsoSize <= 100, `MSS 100 super packets (${on.minGsoSize})`);
      assert(on.splitContinuations > 0, "a super packet needed more than one output batch");
      assert(on.split.segments! > on.split.superPackets!, "super packets were split");
      assert(on.superFramesAccepted > 0, "coalesced super packets were written");
      assertEquals(on.superFramesAccepted, on.superFramesWritten);
      assert(on.maxWrittenLength > 1500 + 10, `a written frame beyond the MTU`);

      const split = results.split!.report.aToB;
      assert(split.superFramesRead > 0);
      assertEquals(split.superFramesWritten, 0);
      assert(split.maxWrittenLength <= 1500 + 10);

      const off = results.off!.report.aToB;
      assertEquals(off.superFramesRead, 0);
      assert(off.maxFrameLength <= 1500, "without offloads nothing exceeds the MTU");
    }, { timeoutMs: 600_000 }),
});
