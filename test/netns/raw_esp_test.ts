/**
 * Raw ESP between two of our appliances (issue #4): gw1 (198.51.100.1, LAN 10.1.0.0/24) and
 * gw2 (198.51.100.2, LAN 10.2.0.0/24) on a plain veth, both listening on 0.0.0.0 (so both
 * find their source address for honest NAT detection: gw1 by a route lookup, gw2 by the
 * peer's destination hash). With nat_t="auto" and no NAT, the tunnel must carry ping both ways
 * and a checked TCP stream as IP protocol 50 — tcpdump on gw2's veth sees ESP with the
 * negotiated SPIs and not a single UDP 4500 datagram. The same pair with nat_t="force" puts
 * ESP into UDP 4500 and sends no protocol 50 at all.
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { type CapturedPacket, PacketCapture } from "./pcap.ts";
import { FailureArtifacts, type LoggedChildSa, RockhopperNode } from "./rockhopper_node.ts";
import { tcpTransfer } from "./traffic.ts";

const GW1_ID = "fqdn:gw1.example.com";
const GW2_ID = "fqdn:gw2.example.com";
const TUNNEL_DEVICE = "rhp1";
const TRANSFER_MIB = 20;
const ESP = 50;
const UDP = 17;

function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** gw1/gw2 with the veth (returned: gw2's end) and the two nodes (not started). */
async function pair(
  lab: NetnsLab,
  natT: "auto" | "force",
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode; gw2Veth: string }> {
  await lab.addNamespace("gw1");
  await lab.addNamespace("gw2");
  const { devB } = await lab.link("gw1", "198.51.100.1/24", "gw2", "198.51.100.2/24");
  const psk = randomPsk();
  const common = { tunnelInterface: TUNNEL_DEVICE, dpd: "0", natT, listenAddress: "0.0.0.0" };
  const gw1 = new RockhopperNode(lab, {
    ...common,
    namespace: "gw1",
    tunnelAddress: "10.1.0.1/24",
    trafficLocal: ["10.1.0.0/24"],
    trafficRemote: ["10.2.0.0/24"],
    myId: GW1_ID,
    peers: [{ id: GW2_ID, address: "198.51.100.2", auto: "start", psk }],
  });
  const gw2 = new RockhopperNode(lab, {
    ...common,
    namespace: "gw2",
    tunnelAddress: "10.2.0.1/24",
    trafficLocal: ["10.2.0.0/24"],
    trafficRemote: ["10.1.0.0/24"],
    myId: GW2_ID,
    peers: [{ id: GW1_ID, auto: "add", psk }],
  });
  return { gw1, gw2, gw2Veth: devB };
}

/** The SPI (first four bytes) of an ESP payload, as 8 hex digits. */
function spiOf(payload: Uint8Array): string {
  return Array.from(payload.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Checks that both SAs agree and returns gw1's. */
function checkChildren(child1: LoggedChildSa, child2: LoggedChildSa): LoggedChildSa {
  assertEquals(child1.spiIn, child2.spiOut, "gw1's inbound SPI is gw2's outbound SPI");
  assertEquals(child1.spiOut, child2.spiIn, "gw1's outbound SPI is gw2's inbound SPI");
  assertEquals([child1.localTs, child1.remoteTs], ["10.1.0.0/24", "10.2.0.0/24"]);
  assertEquals([child2.localTs, child2.remoteTs], ["10.2.0.0/24", "10.1.0.0/24"]);
  return child1;
}

/** ESP-in-UDP datagrams on port 4500 (not IKE behind the zero marker, not keepalives). */
function udpEsp(packets: CapturedPacket[]): CapturedPacket[] {
  return packets.filter((p) =>
    p.protocol === UDP && (p.sourcePort === 4500 || p.destinationPort === 4500) &&
    p.payload.length >= 8 && spiOf(p.payload) !== "00000000"
  );
}

Deno.test({
  name:
    "nat_t=auto without a NAT: two appliances carry ping and a checked TCP stream as raw ESP (IP protocol 50), no UDP 4500",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const { gw1, gw2, gw2Veth } = await pair(lab, "auto");
      const artifacts = new FailureArtifacts(lab, "raw-esp-auto");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);
      const capture = await PacketCapture.start(lab, "gw2", gw2Veth, {
        filter: "not ip6",
        snapLength: 128,
      });

      await gw2.start();
      await gw1.start();
      for (const node of [gw1, gw2]) {
        await node.waitForLog(/listening for IKE on 0\.0\.0\.0:500 .*raw ESP \(IP protocol 50\)/);
      }
      const child1 = await gw1.waitForChildSa();
      const child2 = await gw2.waitForChildSa();
      checkChildren(child1, child2);
      assert(!child1.udpEncapsulated && !child2.udpEncapsulated, "ESP is not UDP-encapsulated");
      assert(
        /IKE_SA established: fqdn:gw1\.example\.com \[198\.51\.100\.1:500\] ↔ fqdn:gw2\.example\.com \[198\.51\.100\.2:500\]/
          .test(await gw1.logText()),
        "gw1 knows its real source address and stays on port 500",
      );
      assert(
        /IKE_SA established: fqdn:gw2\.example\.com \[198\.51\.100\.2:500\] ↔ fqdn:gw1\.example\.com \[198\.51\.100\.1:500\]/
          .test(await gw2.logText()),
        "gw2 took the address the peer's destination hash named",
      );

      assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 5 }), 5);
      assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 5 }), 5);
      const before2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
      const transfer = await tcpTransfer(lab, {
        from: "gw1",
        to: "gw2",
        fromAddress: "10.1.0.1",
        toAddress: "10.2.0.1",
        megabytes: TRANSFER_MIB,
        timeoutMs: 90_000,
      });
      const after2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
      const bytes = TRANSFER_MIB * 1024 * 1024;
      assertEquals(transfer.bytes, bytes);
      assert(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");
      assertEquals(transfer.peerAddress, "10.1.0.1");
      assert(after2.rxBytes - before2.rxBytes >= bytes, "the stream crossed gw2's TUN");
      console.log(
        `raw ESP: ${TRANSFER_MIB} MiB in ${transfer.seconds.toFixed(2)} s (${
          transfer.mbps.toFixed(0)
        } Mbit/s)`,
      );

      const wire = await capture.stop();
      const toGw2 = wire.filter((p) => p.protocol === ESP && p.destination === "198.51.100.2");
      const toGw1 = wire.filter((p) => p.protocol === ESP && p.destination === "198.51.100.1");
      // 5 echo requests + the stream's segments one way, 5 echo replies + ACKs the other.
      assert(toGw2.length > 1000, `only ${toGw2.length} ESP packets to gw2`);
      assert(toGw1.length > 100, `only ${toGw1.length} ESP packets to gw1`);
      assert(toGw2.every((p) => spiOf(p.payload) === child2.spiIn), "ESP to gw2 uses its SPI");
      assert(toGw1.every((p) => spiOf(p.payload) === child1.spiIn), "ESP to gw1 uses its SPI");
      const port4500 = wire.filter((p) =>
        p.protocol === UDP && (p.sourcePort === 4500 || p.destinationPort === 4500)
      );
      assertEquals(port4500.length, 0, "not a single UDP 4500 datagram (no ESP, no IKE)");
      assert(
        wire.some((p) => p.protocol === UDP && p.destinationPort === 500),
        "IKE ran on UDP 500",
      );

      const status = await gw1.stop();
      assertEquals(status?.code, 0, "gw1 exits with status 0 after SIGTERM");
      await gw2.waitForLog(/IKE_SA \S+ with fqdn:gw1\.example\.com deleted/, 10_000);
      await gw2.stop();
      artifacts.passed();
    }, { timeoutMs: 150_000 }),
});

Deno.test({
  name: "nat_t=force: the same two appliances put ESP into UDP 4500 and send no IP protocol 50",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const { gw1, gw2, gw2Veth } = await pair(lab, "force");
      const artifacts = new FailureArtifacts(lab, "raw-esp-force");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);
      const capture = await PacketCapture.start(lab, "gw2", gw2Veth, {
        filter: "not ip6",
        snapLength: 128,
      });

      await gw2.start();
      await gw1.start();
      const child1 = await gw1.waitForChildSa();
      const child2 = await gw2.waitForChildSa();
      checkChildren(child1, child2);
      assert(child1.udpEncapsulated && child2.udpEncapsulated, "ESP is UDP-encapsulated");
      for (const node of [gw1, gw2]) {
        assert(
          !/raw ESP \(IP protocol 50\) on/.test(await node.logText()),
          "no raw ESP socket when every realm forces encapsulation",
        );
      }

      assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 5 }), 5);
      assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 5 }), 5);
      const transfer = await tcpTransfer(lab, {
        from: "gw1",
        to: "gw2",
        fromAddress: "10.1.0.1",
        toAddress: "10.2.0.1",
        megabytes: 5,
        timeoutMs: 60_000,
      });
      assertEquals(transfer.bytes, 5 * 1024 * 1024);
      assert(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");

      const wire = await capture.stop();
      const esp = udpEsp(wire);
      const toGw2 = esp.filter((p) => p.destination === "198.51.100.2");
      const toGw1 = esp.filter((p) => p.destination === "198.51.100.1");
      assert(toGw2.length > 100, `only ${toGw2.length} ESP-in-UDP datagrams to gw2`);
      assert(toGw1.length >= 5, `only ${toGw1.length} ESP-in-UDP datagrams to gw1`);
      assert(toGw2.every((p) => spiOf(p.payload) === child2.spiIn), "ESP to gw2 uses its SPI");
      assert(toGw1.every((p) => spiOf(p.payload) === child1.spiIn), "ESP to gw1 uses its SPI");
      assert(
        esp.every((p) => p.sourcePort === 4500 && p.destinationPort === 4500),
        "ESP-in-UDP between the NAT-T ports",
      );
      assertEquals(wire.filter((p) => p.protocol === ESP).length, 0, "no IP protocol 50");

      await gw1.stop();
      await gw2.stop();
      artifacts.passed();
    }, { timeoutMs: 120_000 }),
});
