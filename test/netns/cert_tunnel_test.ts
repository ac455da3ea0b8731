/**
 * Ours ↔ ours with X.509 certificates: gw1 (198.51.100.1, LAN 10.1.0.0/24) initiates to gw2
 * (198.51.100.2, LAN 10.2.0.0/24), one side signing with the RSA-2048 certificate of the test
 * PKI (test/auth/x509/make_test_pki.sh, generated once for this file), the other with the
 * ECDSA P-256 one, in both assignments. Each end trusts only the root CA, so the intermediate
 * must arrive in the peer's CERT payloads, and loads the CRLs of root and intermediate. The
 * tunnel must come up with matching SPIs, both ends must log whose certificate they accepted,
 * and ping must pass both ways between the inner addresses.
 */
import { assert, assertEquals } from "../_assert.ts";
import { makeTestPki, type TestPki } from "../auth/x509/_pki.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import { FailureArtifacts, RockhopperNode, type RockhopperNodeOptions } from "./rockhopper_node.ts";

const TUNNEL_DEVICE = "rhp1";

/** A gateway certificate of the test PKI. */
interface Gateway {
  /** File stem (`NAME.crt`, `NAME.key`). */
  name: string;
  /** The identity, the certificate's DNS subjectAltName. */
  id: string;
  /** The subject DN as our log prints it. */
  subject: string;
}

const GW_RSA: Gateway = {
  name: "gw-rsa",
  id: "fqdn:gw-rsa.example.com",
  subject: "C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-rsa.example.com",
};
const GW_P256: Gateway = {
  name: "gw-p256",
  id: "fqdn:gw-p256.example.com",
  subject: "C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-p256.example.com",
};

let pkiPromise: Promise<TestPki> | undefined;
/** The PKI of this file, made on first use (so a non-root run does not make it). */
function testPki(): Promise<TestPki> {
  pkiPromise ??= makeTestPki();
  return pkiPromise;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Creates gw1/gw2 with the veth and the two nodes (not started); gw1 initiates. */
async function certPair(
  lab: NetnsLab,
  gateways: { gw1: Gateway; gw2: Gateway },
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode }> {
  const pki = await testPki();
  await lab.addNamespace("gw1");
  await lab.addNamespace("gw2");
  await lab.link("gw1", "198.51.100.1/24", "gw2", "198.51.100.2/24");
  const credentials = (
    me: Gateway,
  ): Pick<RockhopperNodeOptions, "myId" | "myCert" | "caFiles" | "crlFiles"> => ({
    myId: me.id,
    myCert: {
      cert: pki.path(`${me.name}.crt`),
      key: pki.path(`${me.name}.key`),
      chain: [pki.path("intermediate.crt")],
    },
    caFiles: [pki.path("root.crt")],
    crlFiles: [pki.path("intermediate.crl"), pki.path("root.crl")],
  });
  const gw1 = new RockhopperNode(lab, {
    ...credentials(gateways.gw1),
    namespace: "gw1",
    listenAddress: "198.51.100.1",
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: "10.1.0.1/24",
    dpd: "0",
    trafficLocal: ["10.1.0.0/24"],
    trafficRemote: ["10.2.0.0/24"],
    peers: [{ id: gateways.gw2.id, address: "198.51.100.2", auto: "start", auth: "cert" }],
  });
  const gw2 = new RockhopperNode(lab, {
    ...credentials(gateways.gw2),
    namespace: "gw2",
    listenAddress: "198.51.100.2",
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: "10.2.0.1/24",
    dpd: "0",
    trafficLocal: ["10.2.0.0/24"],
    trafficRemote: ["10.1.0.0/24"],
    peers: [{ id: gateways.gw1.id, auto: "add", auth: "cert" }],
  });
  return { gw1, gw2 };
}

for (
  const [initiator, responder] of [[GW_RSA, GW_P256], [GW_P256, GW_RSA]] as const
) {
  Deno.test({
    name: `two appliances with certificates (${initiator.name} initiates, ${responder.name} ` +
      `responds) build a tunnel that carries ping both ways`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const { gw1, gw2 } = await certPair(lab, { gw1: initiator, gw2: responder });
        const artifacts = new FailureArtifacts(lab, `cert-tunnel-${initiator.name}`);
        artifacts.add("gw1", gw1);
        artifacts.add("gw2", gw2);

        // Responder first, so that gw1's first IKE_SA_INIT is answered.
        await gw2.start();
        await gw1.start();
        const child1 = await gw1.waitForChildSa();
        const child2 = await gw2.waitForChildSa();
        assertEquals(child1.spiIn, child2.spiOut, "gw1's inbound SPI is gw2's outbound SPI");
        assertEquals(child1.spiOut, child2.spiIn, "gw1's outbound SPI is gw2's inbound SPI");
        assertEquals([child1.localTs, child1.remoteTs], ["10.1.0.0/24", "10.2.0.0/24"]);
        assertEquals([child2.localTs, child2.remoteTs], ["10.2.0.0/24", "10.1.0.0/24"]);

        for (
          const [node, me, peer] of [[gw1, initiator, responder], [
            gw2,
            responder,
            initiator,
          ]] as const
        ) {
          const log = await node.logText();
          assert(
            new RegExp(
              `${escapeRegExp(peer.id)} authenticated with certificate ${
                escapeRegExp(peer.subject)
              }`,
            ).test(log),
            `${node.options.namespace} logs the certificate of ${peer.id}`,
          );
          assert(
            new RegExp(
              `IKE_SA established: ${escapeRegExp(me.id)} .* ↔ ${escapeRegExp(peer.id)} `,
            ).test(log),
            `${node.options.namespace} logs the IKE SA with both identities`,
          );
        }

        assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);
        assertEquals(await lab.ping("gw2", "10.1.0.1", { from: "10.2.0.1", count: 3 }), 3);
        artifacts.passed();
      }, { timeoutMs: 60_000 }),
  });
}
