/**
 * Ours ↔ ours with EAP (RFC 7296 §2.16), each appliance with its secure process: gw1
 * (198.51.100.1, LAN 10.1.0.0/24) is a road-warrior EAP client (`<my_auth method="eap-...">`)
 * that initiates to the gateway gw2 (198.51.100.2, LAN 10.2.0.0/24), which proves itself with
 * its PSK and admits gw1 by its `<peer auth="eap-...">` entry against its `<eap_user>` list. The
 * tunnel must come up with matching SPIs and carry ping both ways, for EAP-MSCHAPv2 and
 * EAP-MD5; a wrong password must leave no SA on either side and say why; no password or key
 * may appear in either log.
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { FailureArtifacts, RockhopperNode } from "./rockhopper_node.ts";

const GATEWAY_ID = "fqdn:vpn.example.com";
const CLIENT_ID = "email:carol@example.com";
const TUNNEL_DEVICE = "rhp1";

function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

async function eapPair(
  lab: NetnsLab,
  options: { method: "eap-md5" | "eap-mschapv2"; psk: string; password: string; use: string },
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode }> {
  await lab.addNamespace("gw1");
  await lab.addNamespace("gw2");
  await lab.link("gw1", "198.51.100.1/24", "gw2", "198.51.100.2/24");
  const gw1 = new RockhopperNode(lab, {
    namespace: "gw1",
    listenAddress: "198.51.100.1",
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: "10.1.0.1/24",
    dpd: "0",
    trafficLocal: ["10.1.0.0/24"],
    trafficRemote: ["10.2.0.0/24"],
    myId: CLIENT_ID,
    myEap: { method: options.method, identity: "carol@example.com", password: options.use },
    peers: [{ id: GATEWAY_ID, address: "198.51.100.2", auto: "start", psk: options.psk }],
  });
  const gw2 = new RockhopperNode(lab, {
    namespace: "gw2",
    listenAddress: "198.51.100.2",
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: "10.2.0.1/24",
    dpd: "0",
    trafficLocal: ["10.2.0.0/24"],
    trafficRemote: ["10.1.0.0/24"],
    myId: GATEWAY_ID,
    realmPsk: options.psk,
    peers: [{ id: CLIENT_ID, auth: options.method }],
    eapUsers: [{ name: "carol@example.com", password: options.password }],
  });
  return { gw1, gw2 };
}

for (const method of ["eap-mschapv2", "eap-md5"] as const) {
  Deno.test({
    name: `an ${method} road warrior and our gateway build a tunnel that carries ping`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const psk = randomSecret();
        const password = randomSecret();
        const { gw1, gw2 } = await eapPair(lab, { method, psk, password, use: password });
        const artifacts = new FailureArtifacts(lab, `eap-tunnel-${method}`);
        artifacts.add("gw1", gw1);
        artifacts.add("gw2", gw2);
        await gw2.start();
        await gw1.start();
        const child1 = await gw1.waitForChildSa();
        const child2 = await gw2.waitForChildSa();
        assertEquals(child1.spiIn, child2.spiOut);
        assertEquals(child1.spiOut, child2.spiIn);
        for (const node of [gw1, gw2]) {
          assert(
            /IKE_SA established: .*EAP identity "carol@example\.com"/.test(await node.logText()),
            `${node.options.namespace} logs the EAP identity`,
          );
        }
        const before1 = await lab.interfaceCounters("gw1", TUNNEL_DEVICE);
        const before2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
        assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);
        assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 3 }), 3);
        const after1 = await lab.interfaceCounters("gw1", TUNNEL_DEVICE);
        const after2 = await lab.interfaceCounters("gw2", TUNNEL_DEVICE);
        // 3 requests and 3 replies each way leave and enter each side's TUN.
        assert(after1.txPackets - before1.txPackets >= 6, "the pings left gw1 through its TUN");
        assert(after1.rxPackets - before1.rxPackets >= 6, "the pings reached gw1 through its TUN");
        assert(after2.txPackets - before2.txPackets >= 6, "the pings left gw2 through its TUN");
        assert(after2.rxPackets - before2.rxPackets >= 6, "the pings reached gw2 through its TUN");
        await gw1.stop();
        await gw2.stop();
        for (const node of [gw1, gw2]) {
          const log = await node.logText();
          assert(!log.includes(password) && !log.includes(psk), "a secret in a log");
        }
        artifacts.passed();
      }, { timeoutMs: 90_000 }),
  });
}

Deno.test({
  name: "an EAP-MSCHAPv2 road warrior with a wrong password gets no SA and both sides say why",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const psk = randomSecret();
      const password = randomSecret();
      const wrong = randomSecret();
      const { gw1, gw2 } = await eapPair(lab, {
        method: "eap-mschapv2",
        psk,
        password,
        use: wrong,
      });
      const artifacts = new FailureArtifacts(lab, "eap-tunnel-wrong-password");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);
      await gw2.start();
      await gw1.start();
      await gw1.waitForLog(
        /AUTHENTICATION_FAILED: EAP identity "carol@example\.com" refused by fqdn:vpn\.example\.com/,
        20_000,
      );
      await gw2.waitForLog(
        /AUTHENTICATION_FAILED for 198\.51\.100\.1: EAP identity "carol@example\.com"/,
        10_000,
      );
      await gw2.waitForLog(/EAP-MSCHAPV2 server identity "carol@example\.com" failed/, 5_000);
      assertEquals(
        await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 2 }),
        0,
        "no tunnel carries traffic after the refusal",
      );
      await gw1.stop();
      await gw2.stop();
      for (const node of [gw1, gw2]) {
        const log = await node.logText();
        assert(!/IKE_SA established/.test(log), `${node.options.namespace} established an SA`);
        assert(!/CHILD_SA installed/.test(log), `${node.options.namespace} installed a CHILD_SA`);
        assert(!log.includes(password) && !log.includes(wrong), "a password in a log");
      }
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
