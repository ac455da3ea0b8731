/**
 * NAT traversal end to end, ours ↔ ours: a road-warrior (rw 172.16.1.2, inner 10.1.0.1,
 * initiator) behind a NAT router (nftables masquerade onto 198.51.100.1) toward a gateway
 * (gw 198.51.100.2, inner 10.2.0.1, responder whose `<peer>` has no address). The tunnel must
 * come up UDP-encapsulated on 4500 with the road-warrior knowing it is behind the NAT, carry
 * ping, send NAT keepalives (RFC 3948 §2.3) through the router, and survive a NAT mapping
 * change: the router's outside address changes (masquerade drops its conntrack entries) and the
 * new masquerade rule maps to ports 40000-40100, so the road-warrior's ESP arrives from a new
 * address and port; the gateway must move its outbound SA there and log it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { FailureArtifacts, RockhopperNode } from "./rockhopper_node.ts";

const RW_ID = "fqdn:rw.example.com";
const GW_ID = "fqdn:gw.example.com";
const TUNNEL_DEVICE = "rhp1";

function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** (Re)creates the masquerade table on the router, optionally with a port range. */
async function masquerade(lab: NetnsLab, outside: string, ports?: string): Promise<void> {
  await lab.exec("nat", ["nft", "delete", "table", "ip", "nat"]); // absent the first time
  const post = `add rule ip nat post oifname ${outside}`;
  const rule = ports
    ? `${post} meta l4proto udp masquerade to :${ports}; ${post} masquerade`
    : `${post} masquerade`;
  await lab.execChecked("nat", [
    "nft",
    `add table ip nat; add chain ip nat post { type nat hook postrouting priority 100 ; }; ${rule}`,
  ]);
}

/** Packets counted by the router's keepalive rule (UDP to 4500 with one byte of payload). */
async function keepalivesSeen(lab: NetnsLab): Promise<number> {
  const out = await lab.execChecked("nat", ["nft", "list", "chain", "ip", "probe", "keepalives"]);
  return Number(/packets (\d+)/.exec(out.stdout)?.[1] ?? 0);
}

/** Pings until one answer comes back, up to `timeoutMs`; true when one did. */
async function pingWithin(lab: NetnsLab, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await lab.ping("rw", "10.2.0.1", { from: "10.1.0.1", count: 1, wait: 1 }) === 1) {
      return true;
    }
  }
  return false;
}

Deno.test({
  name: "a road-warrior behind a NAT: tunnel over 4500, keepalives, survives a new NAT mapping",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const psk = randomPsk();
      await lab.addNamespace("rw");
      await lab.addNamespace("nat");
      await lab.addNamespace("gw");
      await lab.link("rw", "172.16.1.2/24", "nat", "172.16.1.1/24");
      const { devA: outside } = await lab.link("nat", "198.51.100.1/24", "gw", "198.51.100.2/24");
      await lab.addRoute("rw", "default", ["via", "172.16.1.1"]);
      await lab.enableForwarding("nat");
      await masquerade(lab, outside);
      await lab.execChecked("nat", [
        "nft",
        "add table ip probe; add chain ip probe keepalives { type filter hook forward priority 0 ; }; " +
        `add rule ip probe keepalives oifname ${outside} udp dport 4500 udp length 9 counter`,
      ]);

      const rw = new RockhopperNode(lab, {
        namespace: "rw",
        listenAddress: "172.16.1.2",
        tunnelInterface: TUNNEL_DEVICE,
        tunnelAddress: "10.1.0.1/24",
        trafficLocal: ["10.1.0.0/24"],
        trafficRemote: ["10.2.0.0/24"],
        dpd: "0",
        myId: RW_ID,
        peers: [{ id: GW_ID, address: "198.51.100.2", auto: "start", psk }],
      });
      const gw = new RockhopperNode(lab, {
        namespace: "gw",
        listenAddress: "198.51.100.2",
        tunnelInterface: TUNNEL_DEVICE,
        tunnelAddress: "10.2.0.1/24",
        trafficLocal: ["10.2.0.0/24"],
        trafficRemote: ["10.1.0.0/24"],
        dpd: "0",
        myId: GW_ID,
        peers: [{ id: RW_ID, auto: "add", psk }],
      });
      const artifacts = new FailureArtifacts(lab, "nat");
      artifacts.add("rw", rw);
      artifacts.add("gw", gw);

      await gw.start();
      await rw.start();
      const childRw = await rw.waitForChildSa();
      const childGw = await gw.waitForChildSa();
      assert(childRw.udpEncapsulated && childGw.udpEncapsulated, "ESP runs in UDP on both sides");
      assert(
        /NAT detection: local behind NAT, peer no NAT/.test(await rw.logText()),
        "the road-warrior knows it is behind the NAT",
      );
      assert(
        /NAT detection: local no NAT, peer behind NAT/.test(await gw.logText()),
        "the gateway sees the road-warrior behind a NAT",
      );
      // IKE moved to 4500: the gateway saw the NATed 4500 mapping (from 198.51.100.1).
      assertEquals(await lab.ping("rw", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);
      assertEquals(await lab.ping("gw", "10.1.0.1", { from: "10.2.0.1", count: 3 }), 3);

      // NAT keepalives (default every 20 s) cross the router toward the gateway's 4500.
      const keepaliveDeadline = Date.now() + 30_000;
      while ((await keepalivesSeen(lab)) === 0 && Date.now() < keepaliveDeadline) {
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert((await keepalivesSeen(lab)) > 0, "no 1-byte NAT keepalive crossed the router");

      // New NAT mapping: the outside address changes (masquerade drops its conntrack
      // entries) and new mappings take ports 40000-40100.
      await lab.execChecked("nat", ["ip", "addr", "del", "198.51.100.1/24", "dev", outside]);
      await lab.execChecked("nat", ["ip", "addr", "add", "198.51.100.3/24", "dev", outside]);
      await masquerade(lab, outside, "40000-40100");
      await lab.exec("nat", ["sh", "-c", "command -v conntrack && conntrack -D -p udp || true"]);

      assert(await pingWithin(lab, 10_000), "no ping through the tunnel after the NAT change");
      assertEquals(await lab.ping("rw", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);
      const moved = await gw.waitForLog(
        /moved from 198\.51\.100\.1:\d+ to 198\.51\.100\.3:(\d+) \(NAT mapping change\)/,
        5_000,
      );
      const port = Number(moved[1]);
      assert(port >= 40000 && port <= 40100, `new mapping port ${port} not from the new rule`);
      // Logged once per change, not per packet.
      assertEquals((await gw.logText()).match(/NAT mapping change/g)?.length, 1);
      // The gateway can reach the road-warrior again on its own.
      assertEquals(await lab.ping("gw", "10.1.0.1", { from: "10.2.0.1", count: 3 }), 3);

      await rw.stop();
      await gw.stop();
      artifacts.passed();
    }, { timeoutMs: 120_000 }),
});
