/**
 * Interoperability with a real strongSwan charon (kernel-libipsec, so ESP is always in UDP 4500):
 * our appliance in namespace `rh` (203.0.113.1, LAN 10.1.0.0/24 on TUN rhp0) and charon in
 * namespace `swan` (203.0.113.2, inner 10.2.0.1 on lo). Three suite pairs × both directions
 * must establish, show up in `swanctl --list-sas`, carry ping both ways and a checked TCP stream
 * each way, and end with a DELETE that charon honours when our appliance gets SIGTERM. With
 * different keys both directions must fail cleanly, logged as such on both sides.
 */
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import { tcpTransfer } from "../netns/traffic.ts";
import { FailureArtifacts, RockhopperNode, waitForLogText } from "../netns/rockhopper_node.ts";
import { type IkeSaStatus, StrongSwanPeer } from "./strongswan.ts";

const OUR_ID = "fqdn:rockhopper.example.com";
const SWAN_ID = "strongswan.example.com";
const OUR_OUTER = "203.0.113.1";
const SWAN_OUTER = "203.0.113.2";
const OUR_INNER = "10.1.0.1";
const SWAN_INNER = "10.2.0.1";
const OUR_LAN = "10.1.0.0/24";
const SWAN_LAN = "10.2.0.0/24";
const TUNNEL_DEVICE = "rhp0";
const TRANSFER_MIB = 10;

/** A suite pair with what `swanctl --list-sas` must report for it. */
interface SuiteCase {
  ike: string;
  esp: string;
  ikeEncrAlg: string;
  prfAlg: string;
  dhGroup: string;
  espEncrAlg: string;
  espKeySize: string;
}

const SUITE_CASES: readonly SuiteCase[] = [
  {
    ike: "aes128gcm16-prfsha256-ecp256",
    esp: "aes128gcm16",
    ikeEncrAlg: "AES_GCM_16",
    prfAlg: "PRF_HMAC_SHA2_256",
    dhGroup: "ECP_256",
    espEncrAlg: "AES_GCM_16",
    espKeySize: "128",
  },
  {
    ike: "aes256gcm16-prfsha384-x25519",
    esp: "aes256gcm16",
    ikeEncrAlg: "AES_GCM_16",
    prfAlg: "PRF_HMAC_SHA2_384",
    dhGroup: "CURVE_25519",
    espEncrAlg: "AES_GCM_16",
    espKeySize: "256",
  },
  {
    ike: "aes256-sha256-modp2048",
    esp: "aes256-sha256",
    ikeEncrAlg: "AES_CBC",
    prfAlg: "PRF_HMAC_SHA2_256",
    dhGroup: "MODP_2048",
    espEncrAlg: "AES_CBC",
    espKeySize: "256",
  },
];

type Direction = "ours-initiates" | "strongswan-initiates";

function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** Namespaces, veth, our node and the charon peer (neither started). */
async function interopPair(
  lab: NetnsLab,
  options: {
    suite: SuiteCase;
    direction: Direction;
    ourPsk: string;
    swanPsk: string;
    label: string;
  },
): Promise<{ rh: RockhopperNode; swan: StrongSwanPeer; artifacts: FailureArtifacts }> {
  await lab.addNamespace("rh");
  await lab.addNamespace("swan");
  await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`);
  const rh = new RockhopperNode(lab, {
    namespace: "rh",
    listenAddress: OUR_OUTER,
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: `${OUR_INNER}/24`,
    ikeSuites: [options.suite.ike],
    espSuites: [options.suite.esp],
    dpd: "0",
    trafficLocal: [OUR_LAN],
    trafficRemote: [SWAN_LAN],
    myId: OUR_ID,
    peers: [{
      id: `fqdn:${SWAN_ID}`,
      address: SWAN_OUTER,
      auto: options.direction === "ours-initiates" ? "start" : "add",
      psk: options.ourPsk,
    }],
  });
  const swan = new StrongSwanPeer(lab, {
    namespace: "swan",
    localAddress: SWAN_OUTER,
    remoteAddress: OUR_OUTER,
    localId: SWAN_ID,
    remoteId: OUR_ID.slice("fqdn:".length),
    psk: options.swanPsk,
    ikeProposals: options.suite.ike,
    espProposals: options.suite.esp,
    localTs: SWAN_LAN,
    remoteTs: OUR_LAN,
    innerAddress: SWAN_INNER,
  });
  // Registered after both nodes, so these hooks run before the nodes' own stop hooks.
  const artifacts = new FailureArtifacts(lab, options.label);
  artifacts.add("rockhopper", rh);
  artifacts.add("charon", swan);
  return { rh, swan, artifacts };
}

/** Starts both sides in the order the direction needs; the initiator goes last. */
async function startPair(
  rh: RockhopperNode,
  swan: StrongSwanPeer,
  direction: Direction,
): Promise<void> {
  if (direction === "ours-initiates") {
    await swan.start();
    await swan.loadConfig();
    await rh.start();
  } else {
    await rh.start();
    await swan.start();
    await swan.loadConfig();
  }
}

async function polledUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) throw new Error(`Cannot see ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function directionText(direction: Direction): string {
  return direction === "ours-initiates"
    ? "our initiator → strongSwan responder"
    : "strongSwan initiator → our responder";
}

for (const suite of SUITE_CASES) {
  for (const direction of ["ours-initiates", "strongswan-initiates"] as const) {
    Deno.test({
      name: `${directionText(direction)}: ${suite.ike} / ${suite.esp} carries ping and TCP`,
      ignore: requireRoot(),
      fn: () =>
        withLab(async (lab) => {
          const psk = randomPsk();
          const { rh, swan, artifacts } = await interopPair(lab, {
            suite,
            direction,
            ourPsk: psk,
            swanPsk: psk,
            label: `${direction}-${suite.ike}`,
          });
          await startPair(rh, swan, direction);
          if (direction === "strongswan-initiates") await swan.initiate();

          const ours = await rh.waitForChildSa();
          const ike: IkeSaStatus = await swan.waitEstablished();
          assert(
            /IKE_SA established: fqdn:rockhopper\.example\.com .* ↔ fqdn:strongswan\.example\.com /
              .test(await rh.logText()),
            "our log names both identities",
          );
          assertEquals(ike.state, "ESTABLISHED");
          assertEquals(ike.initiator, direction === "strongswan-initiates");
          assertEquals(ike.remoteId, OUR_ID.slice("fqdn:".length));
          assertEquals(ike.remoteHost, OUR_OUTER);
          assertEquals([ike.localPort, ike.remotePort], [4500, 4500]);
          assertEquals(ike.encrAlg, suite.ikeEncrAlg);
          assertEquals(ike.prfAlg, suite.prfAlg);
          assertEquals(ike.dhGroup, suite.dhGroup);
          assertEquals(ike.childSas.length, 1);
          const child = ike.childSas[0]!;
          assertEquals(child.state, "INSTALLED");
          assertEquals(child.protocol, "ESP");
          assertEquals(child.mode, "TUNNEL");
          assert(child.encap, "charon's child SA is UDP-encapsulated");
          assertEquals(child.encrAlg, suite.espEncrAlg);
          assertEquals(child.encrKeySize, suite.espKeySize);
          assertEquals(child.localTs, [SWAN_LAN]);
          assertEquals(child.remoteTs, [OUR_LAN]);
          assertEquals(ours.suite, suite.esp);
          assertEquals([ours.localTs, ours.remoteTs], [OUR_LAN, SWAN_LAN]);
          assert(ours.udpEncapsulated, "our child SA is UDP-encapsulated");
          assertEquals(child.spiIn, ours.spiOut, "charon's inbound SPI is our outbound SPI");
          assertEquals(child.spiOut, ours.spiIn, "charon's outbound SPI is our inbound SPI");

          assertEquals(await lab.ping("rh", SWAN_INNER, { from: OUR_INNER, count: 3 }), 3);
          assertEquals(await lab.ping("swan", OUR_INNER, { from: SWAN_INNER, count: 3 }), 3);

          // A checked stream each way; charon's SA counters and our TUN counters prove the path.
          const bytes = TRANSFER_MIB * 1024 * 1024;
          const tunBefore = await lab.interfaceCounters("rh", TUNNEL_DEVICE);
          const toSwan = await tcpTransfer(lab, {
            from: "rh",
            to: "swan",
            fromAddress: OUR_INNER,
            toAddress: SWAN_INNER,
            megabytes: TRANSFER_MIB,
          });
          const toUs = await tcpTransfer(lab, {
            from: "swan",
            to: "rh",
            fromAddress: SWAN_INNER,
            toAddress: OUR_INNER,
            megabytes: TRANSFER_MIB,
            port: 15002,
            seed: 2,
          });
          const tunAfter = await lab.interfaceCounters("rh", TUNNEL_DEVICE);
          for (
            const [name, t, from] of [["to charon", toSwan, OUR_INNER], [
              "to us",
              toUs,
              SWAN_INNER,
            ]] as const
          ) {
            assertEquals(t.bytes, bytes, `bytes received ${name}`);
            assert(t.sha256Match, `SHA-256 of the stream ${name} matches the sent pattern`);
            assertEquals(t.peerAddress, from);
          }
          const sent = tunAfter.txBytes - tunBefore.txBytes;
          const received = tunAfter.rxBytes - tunBefore.rxBytes;
          assert(sent >= bytes, `our ${TUNNEL_DEVICE} sent ${sent} bytes, less than ${bytes}`);
          assert(
            received >= bytes,
            `our ${TUNNEL_DEVICE} received ${received} bytes, less than ${bytes}`,
          );
          const [afterTcp] = await swan.listSas();
          const swanChild = afterTcp?.childSas[0];
          assert(swanChild !== undefined, "charon still has the child SA");
          assert(swanChild.bytesIn >= bytes, `charon decrypted only ${swanChild.bytesIn} bytes`);
          assert(swanChild.bytesOut >= bytes, `charon encrypted only ${swanChild.bytesOut} bytes`);
          console.log(
            `${suite.ike}/${suite.esp}: ${TRANSFER_MIB} MiB to charon ${
              toSwan.mbps.toFixed(0)
            } Mbit/s, to us ${toUs.mbps.toFixed(0)} Mbit/s`,
          );

          // SIGTERM: our appliance deletes the IKE SA and charon honours the DELETE.
          const status = await rh.stop();
          assertEquals(status?.code, 0, "our appliance exits with status 0 after SIGTERM");
          await polledUntil(
            "charon drop the IKE SA",
            async () => (await swan.listSas()).length === 0,
            10_000,
          );
          assert(
            /received DELETE for IKE_SA/.test(await swan.logText()),
            "charon logs our DELETE",
          );
          assert(!(await rh.logText()).includes(psk), "the PSK appears in our log");
          artifacts.passed();
        }, { timeoutMs: 120_000 }),
    });
  }
}

const WRONG_PSK_SUITE = SUITE_CASES[0]!;

Deno.test({
  name: "our initiator with a key strongSwan does not share fails on both sides",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const ourPsk = randomPsk();
      const swanPsk = randomPsk();
      const { rh, swan, artifacts } = await interopPair(lab, {
        suite: WRONG_PSK_SUITE,
        direction: "ours-initiates",
        ourPsk,
        swanPsk,
        label: "wrong-psk-ours-initiates",
      });
      await startPair(rh, swan, "ours-initiates");
      // charon cannot verify our AUTH and answers AUTHENTICATION_FAILED (AUTH_FAILED in its log).
      await waitForLogText(swan, /tried 1 shared key .* but MAC mismatched/, 20_000);
      await waitForLogText(swan, /generating IKE_AUTH response \d+ \[ N\(AUTH_FAILED\) \]/, 5_000);
      await rh.waitForLog(/refused our authentication \(AUTHENTICATION_FAILED\)/, 10_000);
      assertEquals((await swan.listSas()).filter((sa) => sa.state === "ESTABLISHED").length, 0);
      await rh.stop();
      const log = await rh.logText();
      assert(!/IKE_SA established/.test(log), "we established an IKE SA");
      assert(!/CHILD_SA installed/.test(log), "we installed a CHILD_SA");
      assert(!log.includes(ourPsk) && !log.includes(swanPsk), "a PSK appears in our log");
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});

Deno.test({
  name: "strongSwan initiating with a key we do not share fails on both sides",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const ourPsk = randomPsk();
      const swanPsk = randomPsk();
      const { rh, swan, artifacts } = await interopPair(lab, {
        suite: WRONG_PSK_SUITE,
        direction: "strongswan-initiates",
        ourPsk,
        swanPsk,
        label: "wrong-psk-strongswan-initiates",
      });
      await startPair(rh, swan, "strongswan-initiates");
      const initiate = await swan.swanctl(
        ["--initiate", "--child", swan.childName, "--timeout", "15"],
        { check: false, timeoutMs: 20_000 },
      );
      assertNotEquals(initiate.code, 0, "swanctl --initiate reports the failure");
      await rh.waitForLog(/AUTHENTICATION_FAILED/, 10_000);
      await waitForLogText(swan, /received AUTHENTICATION_FAILED notify error/, 10_000);
      assertEquals((await swan.listSas()).filter((sa) => sa.state === "ESTABLISHED").length, 0);
      await rh.stop();
      const log = await rh.logText();
      assert(!/IKE_SA established/.test(log), "we established an IKE SA");
      assert(!/CHILD_SA installed/.test(log), "we installed a CHILD_SA");
      assert(!log.includes(ourPsk) && !log.includes(swanPsk), "a PSK appears in our log");
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
