/**
 * The worker data plane (`<data_plane workers="2"/>`, lib/dispatch) between two of our
 * appliances: gw1 (198.51.100.1, LAN 10.1.0.0/24) and gw2 (198.51.100.2, LAN 10.2.0.0/24) on a
 * plain veth. With raw ESP (nat_t="auto", no NAT) and with ESP in UDP 4500 (nat_t="force"),
 * each without and with TUN offloads (`offload="yes"`: TSO super packets split, GRO frames
 * coalesced): ping both ways and a checked 200 MiB TCP stream (SHA-256 compared at the far end),
 * with the TUN counters proving that it crossed the tunnel; full-size packets of the `auto`
 * tunnel MTU (1438) with DF, not fragmented on the outer path. The CPU time both appliances spent
 * per GiB is printed for the record (no timing assertion).
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { randomPsk } from "./lifecycle_checks.ts";
import { tcpTransfer } from "./traffic.ts";
import {
  FailureArtifacts,
  gatewayPair,
  type LoggedChildSa,
  type RockhopperNode,
} from "./rockhopper_node.ts";

const TUNNEL_DEVICE = "rhp1";
const TRANSFER_MIB = 200;
/** `RHP_DATA_PLANE_WORKERS` may override it, e.g. 0 to compare with the main-thread path. */
const WORKERS = Number(Deno.env.get("RHP_DATA_PLANE_WORKERS") || 2);

/** CPU seconds (user + system, all threads) of the appliance main process of `node`. */
async function applianceCpuSeconds(
  node: RockhopperNode,
  which: "all" | "user" = "all",
): Promise<number> {
  const config = `${node.dir}/rockhopper.xml`;
  let ticks = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0");
      if (!argv.includes(config) || argv.includes("secure") || !argv.includes("run")) continue;
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + (which === "all" ? Number(fields[12]) : 0); // utime, stime
    } catch {
      // exited meanwhile
    }
  }
  return ticks / 100;
}

/** `InCsumErrors` of the Tcp MIB of namespace `ns` (/proc/net/snmp). */
async function tcpChecksumErrors(lab: NetnsLab, ns: string): Promise<number> {
  const { stdout } = await lab.execChecked(ns, ["cat", "/proc/net/snmp"]);
  const [names, values] = stdout.split("\n").filter((l) => l.startsWith("Tcp:")).map((l) =>
    l.split(/\s+/)
  );
  return Number(values![names!.indexOf("InCsumErrors")]);
}

/** One MIB line pair of namespace `ns` (/proc/net/snmp), e.g. `Udp` or `Ip`. */
async function snmpMib(lab: NetnsLab, ns: string, mib: string): Promise<Record<string, number>> {
  const { stdout } = await lab.execChecked(ns, ["cat", "/proc/net/snmp"]);
  const [names, values] = stdout.split("\n").filter((l) => l.startsWith(`${mib}:`)).map((l) =>
    l.split(/\s+/)
  );
  return Object.fromEntries(names!.slice(1).map((n, i) => [n, Number(values![i + 1])]));
}

/** The `Udp:` MIB of namespace `ns`: datagrams as the UDP layer counts them. */
function udpMib(lab: NetnsLab, ns: string): Promise<Record<string, number>> {
  return snmpMib(lab, ns, "Udp");
}

/** IPv4 fragments created and reassemblies asked for in both gateways' namespaces. */
async function outerFragmentation(lab: NetnsLab): Promise<number> {
  let total = 0;
  for (const ns of ["gw1", "gw2"]) {
    const ip = await snmpMib(lab, ns, "Ip");
    total += ip.FragCreates! + ip.ReasmReqds!;
  }
  return total;
}

/**
 * `mtu="auto"` with the default AES-GCM suites over IPv4 (UDP possible): 1438 on both ends. A
 * full-size packet with DF crosses both ways and its ESP packet is not fragmented (the ESP
 * datagram is 1472 bytes, the outer packet 1500); one byte more is refused at the TUN.
 */
async function checkFullSizePackets(lab: NetnsLab): Promise<void> {
  const mtu = 1438;
  assertEquals(await lab.linkMtu("gw1", TUNNEL_DEVICE), mtu);
  assertEquals(await lab.linkMtu("gw2", TUNNEL_DEVICE), mtu);
  const fragmentsBefore = await outerFragmentation(lab);
  const full = { count: 3, size: mtu - 28, dontFragment: true };
  assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", ...full }), 3);
  assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", ...full }), 3);
  assertEquals(await outerFragmentation(lab) - fragmentsBefore, 0, "no outer fragments");
  const over = { count: 1, size: mtu - 27, dontFragment: true, wait: 1 };
  assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", ...over }), 0);
}

async function pair(
  lab: NetnsLab,
  natT: "auto" | "force",
  offload: boolean,
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode }> {
  const common = {
    tunnelInterface: TUNNEL_DEVICE,
    natT,
    dataPlaneWorkers: WORKERS,
    dataPlaneOffload: offload,
  };
  return await gatewayPair(lab, randomPsk(), { gw1: common, gw2: common });
}

async function checkedTunnel(
  lab: NetnsLab,
  natT: "auto" | "force",
  offload: boolean,
): Promise<void> {
  const { gw1, gw2 } = await pair(lab, natT, offload);
  const artifacts = new FailureArtifacts(lab, `data-plane-${natT}${offload ? "-offload" : ""}`);
  artifacts.add("gw1", gw1);
  artifacts.add("gw2", gw2);
  await gw2.start();
  await gw1.start();
  for (const gw of WORKERS > 0 ? [gw1, gw2] : []) {
    await gw.waitForLog(new RegExp(`dispatch data plane: ${WORKERS} worker\\(s\\)`));
  }
  const child1: LoggedChildSa = await gw1.waitForChildSa();
  const child2 = await gw2.waitForChildSa();
  assertEquals(child1.spiIn, child2.spiOut);
  assertEquals(child1.udpEncapsulated, natT === "force", "encapsulation as nat_t asks");
  assertEquals(child2.udpEncapsulated, natT === "force");

  assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 5 }), 5);
  assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 5 }), 5);
  await checkFullSizePackets(lab);

  const before1 = await lab.interfaceCounters("gw1", TUNNEL_DEVICE);
  const before2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
  const csumBefore = await tcpChecksumErrors(lab, "gw1") + await tcpChecksumErrors(lab, "gw2");
  const udpBefore1 = await udpMib(lab, "gw1");
  const udpBefore2 = await udpMib(lab, "gw2");
  const cpuBefore = await applianceCpuSeconds(gw1) + await applianceCpuSeconds(gw2);
  const userBefore = await applianceCpuSeconds(gw1, "user") +
    await applianceCpuSeconds(gw2, "user");
  const transfer = await tcpTransfer(lab, {
    from: "gw1",
    to: "gw2",
    fromAddress: "10.1.0.1",
    toAddress: "10.2.0.1",
    megabytes: TRANSFER_MIB,
    timeoutMs: 150_000,
  });
  const cpu = await applianceCpuSeconds(gw1) + await applianceCpuSeconds(gw2) - cpuBefore;
  const user = await applianceCpuSeconds(gw1, "user") + await applianceCpuSeconds(gw2, "user") -
    userBefore;
  const after1 = await lab.interfaceCounters("gw1", TUNNEL_DEVICE);
  const after2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
  const udpAfter1 = await udpMib(lab, "gw1");
  const udpAfter2 = await udpMib(lab, "gw2");
  const bytes = TRANSFER_MIB * 1024 * 1024;
  // ESP in UDP: the kernel counts a UDP GSO send and a UDP GRO receive once per message, so
  // with offloads the counts fall far below one per ESP datagram (≥ bytes / 1500).
  const udpSent = udpAfter1.OutDatagrams! - udpBefore1.OutDatagrams!;
  const udpReceived = udpAfter2.InDatagrams! - udpBefore2.InDatagrams!;
  const espDatagrams = bytes / 1500;
  assertEquals(transfer.bytes, bytes);
  assert(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");
  assertEquals(transfer.peerAddress, "10.1.0.1");
  assert(after1.txBytes - before1.txBytes >= bytes, "the stream left gw1 through its TUN");
  assert(after2.rxBytes - before2.rxBytes >= bytes, "the stream reached gw2 through its TUN");
  assert(after1.rxPackets > before1.rxPackets, "ACKs came back through gw1's TUN");
  assertEquals(
    await tcpChecksumErrors(lab, "gw1") + await tcpChecksumErrors(lab, "gw2") - csumBefore,
    0,
    "no TCP checksum error in either kernel (segments split and coalesced correctly)",
  );
  console.log(
    `data plane (${WORKERS} workers, ${natT === "force" ? "UDP 4500" : "raw ESP"}, offload ${
      offload ? "on" : "off"
    }): ` +
      `${TRANSFER_MIB} MiB in ${transfer.seconds.toFixed(2)} s (${
        transfer.mbps.toFixed(0)
      } Mbit/s), ` +
      `${(cpu / (TRANSFER_MIB / 1024)).toFixed(1)} CPU s/GiB for both appliances (${
        (user / (TRANSFER_MIB / 1024)).toFixed(1)
      } user)`,
  );
  console.log(
    `UDP messages: gw1 sent ${udpSent}, gw2 received ${udpReceived} (≥ ${
      espDatagrams.toFixed(0)
    } ESP datagrams)`,
  );
  if (natT === "force" && WORKERS > 0) {
    if (offload) {
      assert(udpSent < espDatagrams / 4, "gw1 sent ESP in UDP GSO messages (UDP_SEGMENT)");
      assert(udpReceived < espDatagrams / 4, "gw2 received coalesced buffers (UDP_GRO)");
    } else {
      assert(udpSent >= espDatagrams, "without offloads every ESP datagram is its own send");
      assert(udpReceived >= espDatagrams, "without offloads every ESP datagram is its own read");
    }
  }
  // No worker reported a failure.
  for (const gw of [gw1, gw2]) {
    const log = await gw.logText();
    assert(!/data-plane worker .*failed|data path failed/.test(log), "no worker failure logged");
  }
  artifacts.passed();
}

for (const offload of [false, true]) {
  const mode = offload ? "with offloads" : "without offloads";
  Deno.test({
    name: `the worker data plane ${mode} carries ping and a checked 200 MiB stream over raw ESP`,
    ignore: requireRoot(),
    fn: () => withLab((lab) => checkedTunnel(lab, "auto", offload), { timeoutMs: 240_000 }),
  });

  Deno.test({
    name: `the worker data plane ${mode} carries ping and a checked 200 MiB stream in UDP 4500`,
    ignore: requireRoot(),
    fn: () => withLab((lab) => checkedTunnel(lab, "force", offload), { timeoutMs: 240_000 }),
  });
}
