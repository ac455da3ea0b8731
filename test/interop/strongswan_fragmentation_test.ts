/**
 * IKE fragmentation (RFC 7383) against a real strongSwan charon over a 576-byte path that
 * drops IP fragments: our appliance in namespace `rh` (203.0.113.1) and charon in `swan`
 * (203.0.113.2), a veth with MTU 576 between them, and in each namespace an nftables rule that
 * drops (and counts) every IP fragment before reassembly. An IKE message that does not fit in
 * 576 bytes therefore never arrives unless IKE itself splits it.
 *
 * Both ends have `fragmentation = yes` and a fragment size of 576. IKE_AUTH exceeds 576 bytes
 * because of certificates (the case: we send an RSA-2048 end-entity certificate with
 * its intermediate CA, charon its P-256 certificate, from test/auth/x509/make_test_pki.sh), or,
 * with PSKs, because of 20 traffic selectors per side (a site with many subnets):
 * 1. both directions × both kinds: the tunnel comes up, ping passes both ways, our log and
 *    charon's show IKE_AUTH sent and received in fragments, and no IP fragment was dropped;
 * 2. the control: with `fragmentation="no"` on our side the same IKE_AUTH is IP-fragmented,
 *    the fragments are dropped, and the exchange fails.
 */
import { assert, assertEquals } from "../_assert.ts";
import { makeTestPki, type TestPki } from "../auth/x509/_pki.ts";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import { FailureArtifacts, RockhopperNode, waitForLogText } from "../netns/rockhopper_node.ts";
import { StrongSwanPeer } from "./strongswan.ts";

const OUR_ID = "fqdn:rockhopper.example.com";
const SWAN_ID = "strongswan.example.com";
const OUR_OUTER = "203.0.113.1";
const SWAN_OUTER = "203.0.113.2";
const OUR_INNER = "10.1.0.1";
const SWAN_INNER = "10.2.0.1";
const TUNNEL_DEVICE = "rhp0";
/** The path MTU, and the fragment size of both ends. */
const PATH_MTU = 576;
const SUITE = { ike: "aes256gcm16-prfsha384-x25519", esp: "aes256gcm16" };
/** 10.1.0.0/24 … 10.1.19.0/24 and 10.2.0.0/24 … 10.2.19.0/24: 640 bytes of selectors. */
const SUBNETS = 20;
const OUR_LANS = Array.from({ length: SUBNETS }, (_, i) => `10.1.${i}.0/24`);
const SWAN_LANS = Array.from({ length: SUBNETS }, (_, i) => `10.2.${i}.0/24`);

type Direction = "ours-initiates" | "strongswan-initiates";
/** What makes IKE_AUTH large. */
type Bulk = "certificates" | "subnets";

let pkiPromise: Promise<TestPki> | undefined;
/** The PKI of this file, made on first use (so a non-root run does not make it). */
function testPki(): Promise<TestPki> {
  pkiPromise ??= makeTestPki();
  return pkiPromise;
}

/**
 * nftables in `ns`: a prerouting chain below the defragmentation priority (-400) that drops
 * and counts IP fragments, so the path passes only whole datagrams.
 */
async function dropIpFragments(lab: NetnsLab, ns: string): Promise<void> {
  await lab.execChecked(ns, [
    "nft",
    "add table ip rht_frag; " +
    "add chain ip rht_frag pre { type filter hook prerouting priority -450; }; " +
    "add rule ip rht_frag pre ip frag-off & 0x3fff != 0 counter drop",
  ]);
}

/** Packets the fragment-dropping rule of `ns` has dropped. */
async function droppedIpFragments(lab: NetnsLab, ns: string): Promise<number> {
  const r = await lab.execChecked(ns, ["nft", "list", "chain", "ip", "rht_frag", "pre"]);
  const match = /counter packets (\d+)/.exec(r.stdout);
  if (match === null) throw new Error(`Cannot read the fragment counter in ${ns}: ${r.stdout}`);
  return Number(match[1]);
}

async function fragmentationLab(
  lab: NetnsLab,
  options: { direction: Direction; bulk: Bulk; ourFragmentation: boolean; label: string },
): Promise<{ rh: RockhopperNode; swan: StrongSwanPeer; artifacts: FailureArtifacts }> {
  const certificates = options.bulk === "certificates";
  const pki = certificates ? await testPki() : undefined;
  const ourLans = certificates ? OUR_LANS.slice(0, 1) : OUR_LANS;
  const swanLans = certificates ? SWAN_LANS.slice(0, 1) : SWAN_LANS;
  const ourId = certificates ? "gw-rsa.example.com" : OUR_ID.slice("fqdn:".length);
  const swanId = certificates ? "gw-p256.example.com" : SWAN_ID;
  await lab.addNamespace("rh");
  await lab.addNamespace("swan");
  await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`, { mtu: PATH_MTU });
  await dropIpFragments(lab, "rh");
  await dropIpFragments(lab, "swan");
  // kernel-libipsec routes each local selector with a source address inside it.
  for (let i = 1; i < swanLans.length; i++) {
    await lab.addAddress("swan", `10.2.${i}.1/32`, "lo");
  }
  const psk = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const rh = new RockhopperNode(lab, {
    namespace: "rh",
    listenAddress: OUR_OUTER,
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: `${OUR_INNER}/24`,
    ikeSuites: [SUITE.ike],
    espSuites: [SUITE.esp],
    dpd: "0",
    retransmitTimeout: "1s",
    retransmitTries: options.ourFragmentation ? 5 : 2,
    fragmentation: options.ourFragmentation,
    fragmentSize: PATH_MTU,
    trafficLocal: ourLans,
    trafficRemote: swanLans,
    myId: `fqdn:${ourId}`,
    ...(pki
      ? {
        myCert: {
          cert: pki.path("gw-rsa.crt"),
          key: pki.path("gw-rsa.key"),
          chain: [pki.path("intermediate.crt")],
        },
        caFiles: [pki.path("root.crt")],
      }
      : {}),
    peers: [{
      id: `fqdn:${swanId}`,
      address: SWAN_OUTER,
      auto: options.direction === "ours-initiates" ? "start" : "add",
      ...(pki ? { auth: "cert" as const } : { psk }),
    }],
  });
  const swan = new StrongSwanPeer(lab, {
    namespace: "swan",
    localAddress: SWAN_OUTER,
    remoteAddress: OUR_OUTER,
    localId: swanId,
    remoteId: ourId,
    ...(pki
      ? {
        cert: {
          cert: pki.path("gw-p256.crt"),
          key: pki.path("gw-p256.key"),
          caCerts: [pki.path("root.crt"), pki.path("intermediate.crt")],
        },
      }
      : { psk }),
    ikeProposals: SUITE.ike,
    espProposals: SUITE.esp,
    localTs: swanLans.join(","),
    remoteTs: ourLans.join(","),
    innerAddress: SWAN_INNER,
    fragmentation: "yes",
    fragmentSize: PATH_MTU,
  });
  const artifacts = new FailureArtifacts(lab, options.label);
  artifacts.add("rockhopper", rh);
  artifacts.add("charon", swan);
  return { rh, swan, artifacts };
}

for (const bulk of ["certificates", "subnets"] as const) {
  for (const direction of ["ours-initiates", "strongswan-initiates"] as const) {
    const title = direction === "ours-initiates"
      ? "our initiator → strongSwan responder"
      : "strongSwan initiator → our responder";
    const what = bulk === "certificates"
      ? "certificate chain"
      : `PSK and ${SUBNETS} subnets per side`;
    Deno.test({
      name:
        `${title}: IKE_AUTH with a ${what} in fragments over a 576-byte path that drops IP fragments`,
      ignore: requireRoot(),
      fn: () =>
        withLab(async (lab) => {
          const { rh, swan, artifacts } = await fragmentationLab(lab, {
            direction,
            bulk,
            ourFragmentation: true,
            label: `fragmentation-${bulk}-${direction}`,
          });
          if (direction === "ours-initiates") {
            await swan.start();
            await swan.loadConfig();
            await rh.start();
          } else {
            await rh.start();
            await swan.start();
            await swan.loadConfig();
            await swan.initiate();
          }
          await rh.waitForLog(/CHILD_SA installed/, 30_000);
          const ike = await swan.waitEstablished();
          assertEquals(ike.initiator, direction === "strongswan-initiates");
          assertEquals(ike.childSas[0]!.localTs.length, bulk === "subnets" ? SUBNETS : 1);
          assertEquals(await lab.ping("rh", SWAN_INNER, { from: OUR_INNER, count: 3 }), 3);
          assertEquals(await lab.ping("swan", OUR_INNER, { from: SWAN_INNER, count: 3 }), 3);

          // Ours: IKE_AUTH sent in fragments and the peer's reassembled.
          const [sent, received] = direction === "ours-initiates"
            ? ["request", "response"]
            : ["response", "request"];
          const ourLog = await rh.logText();
          const ourSent = new RegExp(`sending IKE_AUTH ${sent} 1 .*in (\\d+) fragments`).exec(
            ourLog,
          );
          const ourReassembled = new RegExp(
            `reassembled IKE_AUTH ${received} 1 from (\\d+) fragments \\((\\d+) bytes\\)`,
          ).exec(ourLog);
          assert(ourSent !== null, `we log IKE_AUTH ${sent} 1 in fragments`);
          assert(ourReassembled !== null, `we log the reassembled IKE_AUTH ${received}`);
          // charon: split its own IKE_AUTH, reassembled ours.
          const charonLog = await swan.logText();
          const charonSplit = /splitting IKE message \((\d+) bytes\) into (\d+) fragments/.exec(
            charonLog,
          );
          const charonReassembled =
            /received fragment #\d+ of (\d+), reassembled fragmented IKE message \((\d+) bytes\)/
              .exec(charonLog);
          assert(charonSplit !== null, "charon split its IKE_AUTH into fragments");
          assert(charonReassembled !== null, "charon reassembled our fragments");
          assertEquals(Number(charonReassembled[1]), Number(ourSent[1]), "fragment counts agree");
          assertEquals(Number(ourReassembled[1]), Number(charonSplit[2]), "fragment counts agree");
          assert(Number(charonSplit[1]) > PATH_MTU, "charon's IKE_AUTH exceeds the path MTU");
          assert(Number(ourReassembled[2]) > PATH_MTU, "the reassembled payloads exceed it too");
          // Nothing relied on IP fragmentation.
          assertEquals(await droppedIpFragments(lab, "rh"), 0);
          assertEquals(await droppedIpFragments(lab, "swan"), 0);
          console.log(
            [`${bulk}, ${direction}:`, ourSent, ourReassembled, charonSplit, charonReassembled]
              .map((line) => Array.isArray(line) ? `  ${line[0]}` : line).join("\n"),
          );
          artifacts.passed();
        }, { timeoutMs: 120_000 }),
    });
  }
}

Deno.test({
  name: 'control: with fragmentation="no" the same IKE_AUTH is lost to the path',
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const { rh, swan, artifacts } = await fragmentationLab(lab, {
        direction: "ours-initiates",
        bulk: "subnets",
        ourFragmentation: false,
        label: "fragmentation-control",
      });
      await swan.start();
      await swan.loadConfig();
      await rh.start();
      await rh.waitForLog(/did not answer IKE_AUTH after 2 retransmissions/, 30_000);
      assert(
        (await droppedIpFragments(lab, "swan")) >= 2 * 3,
        "the IP fragments of our IKE_AUTH (first send and two retransmissions) were dropped",
      );
      const log = await rh.logText();
      assert(!/in \d+ fragments/.test(log), "we did not fragment");
      assert(!/CHILD_SA installed/.test(log));
      await waitForLogText(swan, /received packet: from 203\.0\.113\.1\[500\]/, 1_000);
      assert(
        !/splitting IKE message|received fragment/.test(await swan.logText()),
        "no IKE fragments either way",
      );
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
