/**
 * End to end, ours ↔ ours: two appliances in two namespaces joined by a veth
 * (gw1 198.51.100.1, LAN 10.1.0.0/24 ⇄ gw2 198.51.100.2, LAN 10.2.0.0/24). gw1 initiates
 * (`auto="start"`), gw2 responds, both with the default nat_t="auto", so with no NAT on the veth
 * ESP runs raw (IP protocol 50). The tunnel must carry ping both ways and a 50 MiB TCP stream
 * whose SHA-256 is checked at the far end, and the TUN counters must prove that it did. A second
 * test gives the two sides different keys and expects a clean authentication failure.
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { iperf3, tcpTransfer } from "./traffic.ts";
import { randomPsk } from "./lifecycle_checks.ts";
import { FailureArtifacts, gatewayPair, GW1_ID, type RockhopperNode } from "./rockhopper_node.ts";

const TUNNEL_DEVICE = "rhp1";
const TRANSFER_MIB = 50;

/** The standard pair (gatewayPair) with each side's own key, so that they can differ. */
function branchPair(
  lab: NetnsLab,
  keys: { gw1: string; gw2: string },
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode }> {
  return gatewayPair(lab, keys.gw1, {
    gw2: { peers: [{ id: GW1_ID, auto: "add", psk: keys.gw2 }] },
  });
}

Deno.test({
  name: "two appliances build a tunnel that carries ping both ways and a checked 50 MiB TCP stream",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const psk = randomPsk();
      const { gw1, gw2 } = await branchPair(lab, { gw1: psk, gw2: psk });
      const artifacts = new FailureArtifacts(lab, "tunnel");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);

      // Responder first, so that gw1's first IKE_SA_INIT is answered.
      await gw2.start();
      await gw1.start();
      const child1 = await gw1.waitForChildSa();
      const child2 = await gw2.waitForChildSa();
      assert(
        /IKE_SA established: fqdn:gw1\.example\.com .* ↔ fqdn:gw2\.example\.com /
          .test(await gw1.logText()),
        "gw1 logs the IKE SA with both identities",
      );
      assert(
        /IKE_SA established: fqdn:gw2\.example\.com .* ↔ fqdn:gw1\.example\.com /
          .test(await gw2.logText()),
        "gw2 logs the IKE SA with both identities",
      );
      assertEquals(child1.suite, "aes256gcm16", "the first ESP suite of the default list");
      assertEquals(child2.suite, child1.suite);
      assertEquals(child1.spiIn, child2.spiOut, "gw1's inbound SPI is gw2's outbound SPI");
      assertEquals(child1.spiOut, child2.spiIn, "gw1's outbound SPI is gw2's inbound SPI");
      assertEquals([child1.localTs, child1.remoteTs], ["10.1.0.0/24", "10.2.0.0/24"]);
      assertEquals([child2.localTs, child2.remoteTs], ["10.2.0.0/24", "10.1.0.0/24"]);
      // nat_t="auto" (the default) and no NAT on the veth: raw ESP (IP protocol 50). The
      // UDP-encapsulated path is covered by raw_esp_test.ts (nat_t="force") and test/interop/.
      assert(
        !child1.udpEncapsulated && !child2.udpEncapsulated,
        "ESP runs raw (no NAT, nat_t=auto)",
      );

      // Ping both ways between the inner addresses, no loss.
      assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 5 }), 5);
      assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 5 }), 5);

      // A checked TCP stream; the TUN counters prove that it crossed the tunnel.
      const before1 = await lab.interfaceCounters("gw1", TUNNEL_DEVICE);
      const before2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
      const transfer = await tcpTransfer(lab, {
        from: "gw1",
        to: "gw2",
        fromAddress: "10.1.0.1",
        toAddress: "10.2.0.1",
        megabytes: TRANSFER_MIB,
        timeoutMs: 90_000,
      });
      const after1 = await lab.interfaceCounters("gw1", TUNNEL_DEVICE);
      const after2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
      const bytes = TRANSFER_MIB * 1024 * 1024;
      assertEquals(transfer.bytes, bytes);
      assert(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");
      assertEquals(transfer.peerAddress, "10.1.0.1");
      const sent = after1.txBytes - before1.txBytes;
      const received = after2.rxBytes - before2.rxBytes;
      assert(sent >= bytes, `gw1 ${TUNNEL_DEVICE} sent ${sent} bytes, less than ${bytes}`);
      assert(
        received >= bytes,
        `gw2 ${TUNNEL_DEVICE} received ${received} bytes, less than ${bytes}`,
      );
      // The ACKs came back through the tunnel as well.
      assert(after1.rxPackets > before1.rxPackets, `no ACKs arrived on gw1 ${TUNNEL_DEVICE}`);
      assert(after2.txPackets > before2.txPackets, `no ACKs left gw2 ${TUNNEL_DEVICE}`);
      console.log(
        `tunnel: ${TRANSFER_MIB} MiB in ${transfer.seconds.toFixed(2)} s (${
          transfer.mbps.toFixed(0)
        } Mbit/s)`,
      );

      // Throughput for the record; no timing assertion.
      const tunnelMbps = await iperf3(lab, {
        server: "gw2",
        client: "gw1",
        serverAddress: "10.2.0.1",
        clientAddress: "10.1.0.1",
        seconds: 5,
        streams: 1,
      });
      const vethMbps = await iperf3(lab, {
        server: "gw2",
        client: "gw1",
        serverAddress: "198.51.100.2",
        clientAddress: "198.51.100.1",
        seconds: 5,
        streams: 1,
      });
      console.log(
        `iperf3: tunnel ${tunnelMbps.toFixed(0)} Mbit/s, veth ${vethMbps.toFixed(0)} Mbit/s`,
      );

      // SIGTERM: gw1 deletes its IKE SA (gw2 hears about it) and exits cleanly.
      const status = await gw1.stop();
      assertEquals(status?.code, 0, "gw1 exits with status 0 after SIGTERM");
      await gw2.waitForLog(/IKE_SA \S+ with fqdn:gw1\.example\.com deleted/, 10_000);
      assertEquals(
        await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 1, wait: 1 }),
        0,
        "no route into the tunnel once the SA is gone",
      );
      await gw2.stop();
      for (const [name, node] of [["gw1", gw1], ["gw2", gw2]] as const) {
        assert(!(await node.logText()).includes(psk), `the PSK appears in ${name}'s log`);
      }
      artifacts.passed();
    }, { timeoutMs: 150_000 }),
});

Deno.test({
  name: "two appliances with different keys fail with AUTHENTICATION_FAILED and no CHILD_SA",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const keys = { gw1: randomPsk(), gw2: randomPsk() };
      const { gw1, gw2 } = await branchPair(lab, keys);
      const artifacts = new FailureArtifacts(lab, "tunnel-wrong-psk");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);

      await gw2.start();
      await gw1.start();
      // gw2 cannot verify gw1's AUTH; gw1 receives the AUTHENTICATION_FAILED notify.
      await gw2.waitForLog(/AUTHENTICATION_FAILED/, 20_000);
      await gw1.waitForLog(/AUTHENTICATION_FAILED/, 20_000);
      assertEquals(
        await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 1, wait: 1 }),
        0,
        "nothing reaches the far LAN",
      );
      await gw1.stop();
      await gw2.stop();
      for (const [name, node] of [["gw1", gw1], ["gw2", gw2]] as const) {
        const log = await node.logText();
        assert(!/IKE_SA established/.test(log), `${name} established an IKE SA`);
        assert(!/CHILD_SA installed/.test(log), `${name} installed a CHILD_SA`);
        assert(!log.includes(keys.gw1), `gw1's PSK appears in ${name}'s log`);
        assert(!log.includes(keys.gw2), `gw2's PSK appears in ${name}'s log`);
      }
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
