/**
 * The IKEv2 lifecycle against a real strongSwan charon (issue #4): rekeying during a steady TCP
 * transfer with charon as rekey initiator (its short `rekey_time`) and with us as rekey
 * initiator (our short `rekey`), both with PFS; and IKE_SA_INIT/IKE_AUTH in both directions
 * through a router that drops 30 % of IKE packets.
 *
 * Our appliance runs in namespace `rh` (203.0.113.1, LAN 10.1.0.0/24 on TUN rhp0), charon in
 * `swan` (203.0.113.2, inner 10.2.0.1 on lo; kernel-libipsec, so IKE moves to 4500 and ESP is
 * always UDP-encapsulated).
 */
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import { tcpTransfer } from "../netns/traffic.ts";
import {
  FailureArtifacts,
  RockhopperNode,
  type RockhopperPeerOptions,
} from "../netns/rockhopper_node.ts";
import {
  boundTcpBuffers,
  describeIncreases,
  installedChildSas,
  pollFor,
  randomPsk,
  retransmissionsWithin,
  SA_GAP_PATTERN,
  shapeEgress,
  sleep,
  socketDrops,
  timedMatches,
  watchTcpRetransmissions,
} from "../netns/lifecycle_checks.ts";
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
/** charon's kernel-libipsec TUN device. */
const CHARON_TUNNEL_DEVICE = "ipsec0";
const IKE_SUITE = "aes128gcm16-prfsha256-ecp256";
/** With a DH group, so that a child rekey carries a KE (PFS); IKE_AUTH children have none. */
const CHARON_ESP_PROPOSALS = "aes128gcm16-ecp256";

// --- Rekeying ----------------------------------------------------------------------------------

/**
 * The rekeying side rekeys the IKE SA after 9–10 s and the child SA after 10.8–12 s (both
 * implementations rekey up to 10 % early), so the child rekey runs over the new IKE SA. The
 * transfer is shaped to last about 15 s and starts about 1 s after the SA is up.
 */
const IKE_REKEY_SECONDS = 10;
const CHILD_REKEY_SECONDS = 12;
const TRANSFER_MBIT = 16;
const TRANSFER_MIB = 28;
/**
 * From a rekey's last event to the sample that shows its losses: a fast retransmit follows
 * about one round trip (< 150 ms here) after the loss, an RTO at least 200 ms; sampled every
 * 250 ms.
 */
const LOSS_DETECTION_MS = 1_500;
/** How much earlier than our first log line about it charon may start an exchange. */
const CHARON_LEAD_MS = 500;

type Rekeyer = "strongswan" | "ours";

/** The one established IKE SA with exactly one installed child, or undefined. */
function settled(sas: IkeSaStatus[]): IkeSaStatus | undefined {
  if (sas.length !== 1) return undefined;
  const [sa] = sas;
  if (sa?.state !== "ESTABLISHED" || sa.childSas.length !== 1) return undefined;
  return sa.childSas[0]!.state === "INSTALLED" ? sa : undefined;
}

for (const rekeyer of ["strongswan", "ours"] as const satisfies readonly Rekeyer[]) {
  // Whoever rekeys, the other side initiated the IKE SA: the rekey flips the original roles.
  const ikeInitiator: Rekeyer = rekeyer === "ours" ? "strongswan" : "ours";
  Deno.test({
    name: `${
      rekeyer === "ours" ? "we (IKE responder) rekey" : "strongSwan (IKE responder) rekeys"
    } the IKE SA and then the child SA with PFS during a checked TCP transfer; old SAs are deleted`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        await lab.addNamespace("rh");
        await lab.addNamespace("swan");
        await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`);
        const psk = randomPsk();
        const ours = rekeyer === "ours";
        const rh = new RockhopperNode(lab, {
          namespace: "rh",
          listenAddress: OUR_OUTER,
          tunnelInterface: TUNNEL_DEVICE,
          tunnelAddress: `${OUR_INNER}/24`,
          ikeSuites: [IKE_SUITE],
          espSuites: ["aes128gcm16"],
          dpd: "0",
          ikeRekey: ours ? `${IKE_REKEY_SECONDS}s` : "0",
          espRekey: ours ? `${CHILD_REKEY_SECONDS}s` : "0",
          pfs: true,
          trafficLocal: [OUR_LAN],
          trafficRemote: [SWAN_LAN],
          myId: OUR_ID,
          peers: [{
            id: `fqdn:${SWAN_ID}`,
            address: SWAN_OUTER,
            auto: ikeInitiator === "ours" ? "start" : "add",
            psk,
          }],
        });
        const swan = new StrongSwanPeer(lab, {
          namespace: "swan",
          localAddress: SWAN_OUTER,
          remoteAddress: OUR_OUTER,
          localId: SWAN_ID,
          remoteId: OUR_ID.slice("fqdn:".length),
          psk,
          ikeProposals: IKE_SUITE,
          espProposals: CHARON_ESP_PROPOSALS,
          localTs: SWAN_LAN,
          remoteTs: OUR_LAN,
          innerAddress: SWAN_INNER,
          // `0` turns charon's rekeying off where we are the rekeyer.
          ikeRekeyTime: ours ? "0" : `${IKE_REKEY_SECONDS}s`,
          childRekeyTime: ours ? "0" : `${CHILD_REKEY_SECONDS}s`,
        });
        const artifacts = new FailureArtifacts(lab, `rekey-by-${rekeyer}`);
        artifacts.add("rockhopper", rh);
        artifacts.add("charon", swan);

        if (ikeInitiator === "ours") {
          await swan.start();
          await swan.loadConfig();
          await rh.start();
        } else {
          await rh.start();
          await swan.start();
          await swan.loadConfig();
          await swan.initiate();
        }
        const firstChild = await rh.waitForChildSa();
        const first = await swan.waitEstablished();
        const firstSwanChild = first.childSas[0]!;
        assertEquals(first.initiator, ikeInitiator === "strongswan");
        assertEquals([firstSwanChild.spiIn, firstSwanChild.spiOut], [
          firstChild.spiOut,
          firstChild.spiIn,
        ]);

        // From the rekey responder to the rekeyer: the responder switches to its new outbound SA
        // first, so this is the direction in which a make-before-break gap would lose data.
        // Shaped on the sender's tunnel device (steady, outlasts both rekeys) with bounded TCP
        // buffers, so that the shaper never drops and every TCP retransmission is a lost packet.
        const [from, to, fromAddress, toAddress, device] = ours
          ? ["swan", "rh", SWAN_INNER, OUR_INNER, CHARON_TUNNEL_DEVICE]
          : ["rh", "swan", OUR_INNER, SWAN_INNER, TUNNEL_DEVICE];
        await shapeEgress(lab, from, device, TRANSFER_MBIT);
        await boundTcpBuffers(lab, from);
        await boundTcpBuffers(lab, to);
        const watch = await watchTcpRetransmissions(lab, from);
        const transferStart = Date.now();
        const transfer = await tcpTransfer(lab, {
          from,
          to,
          fromAddress,
          toAddress,
          megabytes: TRANSFER_MIB,
          timeoutMs: 60_000,
        });
        const transferEnd = Date.now();
        const retransmits = await watch.stop();
        console.log(
          `rekey by ${rekeyer}: ${TRANSFER_MIB} MiB ${from} → ${to} in ${
            transfer.seconds.toFixed(1)
          } s, ${retransmits.total} TCP retransmissions`,
        );
        assertEquals(transfer.bytes, TRANSFER_MIB * 1024 * 1024, "bytes received");
        assert(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");

        const log = await rh.logText();
        const during = (what: string, t: { time: number } | undefined) => {
          assert(t !== undefined, `${what}: not in our log`);
          assert(
            t.time > transferStart && t.time < transferEnd,
            `${what} at ${new Date(t.time).toISOString()}, outside the transfer (${
              new Date(transferStart).toISOString()
            } – ${new Date(transferEnd).toISOString()})`,
          );
        };

        // IKE SA: rekeyed once, the old one deleted (by us, or by charon and honoured by us).
        const rekeyed = ours
          ? timedMatches(log, /IKE_SA rekeyed as #(\d+); deleting the old one/)[0]
          : timedMatches(log, /IKE_SA rekeyed by fqdn:strongswan\.example\.com as #(\d+)/)[0];
        during("IKE_SA rekeyed", rekeyed);
        const oldIke = rekeyed!.serial!;
        const newIke = Number(rekeyed!.match[1]);
        const oldIkeGone = timedMatches(
          log,
          ours
            ? /IKE_SA (\S+) with \S+ deleted: delete acknowledged by the peer/
            : /IKE_SA (\S+) with \S+ deleted: deleted by peer/,
        ).find((m) => m.serial === oldIke);
        during(`old IKE_SA #${oldIke} deleted`, oldIkeGone);
        assertEquals(
          oldIkeGone!.match[1],
          `${first.initiatorSpi}_${first.responderSpi}`,
          "the deleted IKE SA is the one charon listed first",
        );

        // Child SA: rekeyed over the new IKE SA, the old pair deleted on both sides.
        const children = installedChildSas(log);
        const newChild = children.find((c) => c.time > rekeyed!.time);
        assert(newChild !== undefined, "we installed a new child SA after the IKE rekey");
        during("new CHILD_SA installed", newChild);
        assertEquals(newChild.serial, newIke, `the new child belongs to IKE_SA #${newIke}`);
        assert(
          newChild.spiIn !== firstChild.spiIn && newChild.spiOut !== firstChild.spiOut,
          "the child rekey changed both SPIs",
        );
        if (ours) {
          const childRekeyed = timedMatches(log, /CHILD_SA (0x[0-9a-f]{8}) rekeyed; deleting/)[0];
          during("CHILD_SA rekeyed", childRekeyed);
          assertEquals(childRekeyed!.match[1], `0x${firstChild.spiIn}`);
          during(
            "old CHILD_SA deleted",
            timedMatches(
              log,
              new RegExp(`CHILD_SA 0x${firstChild.spiIn}/0x${firstChild.spiOut} deleted`),
            )[0],
          );
        } else {
          during(
            "old CHILD_SA deleted on charon's request",
            timedMatches(
              log,
              new RegExp(
                `peer deleted CHILD_SA out 0x${firstChild.spiOut}; deleted in 0x${firstChild.spiIn}`,
              ),
            )[0],
          );
        }
        assertEquals(
          timedMatches(log, SA_GAP_PATTERN).map((g) => g.match.input),
          [],
          "we dropped packets for a missing SA",
        );

        // charon: the rekeys carried a KE (PFS for the child), and only the new SAs are left.
        const charonLog = await swan.logText();
        const verb = ours ? "parsed" : "generating";
        assert(
          new RegExp(`${verb} CREATE_CHILD_SA request \\d+ \\[ SA No KE \\]`).test(charonLog),
          `charon logs the IKE rekey request (${verb})`,
        );
        assert(
          new RegExp(
            `${verb} CREATE_CHILD_SA request \\d+ \\[ N\\(REKEY_SA\\) SA No KE TSi TSr \\]`,
          )
            .test(charonLog),
          `charon logs the child rekey request with a KE (${verb})`,
        );
        const now = await pollFor("charon settled on one IKE SA with one child", async () => {
          const sa = settled(await swan.listSas());
          if (sa === undefined) return undefined;
          const latest = installedChildSas(await rh.logText()).at(-1)!;
          return sa.childSas[0]!.spiIn === latest.spiOut ? { sa, latest } : undefined;
        }, 10_000);
        const child = now.sa.childSas[0]!;
        assertNotEquals(now.sa.initiatorSpi, first.initiatorSpi, "charon's IKE SA is a new one");
        assertNotEquals(now.sa.responderSpi, first.responderSpi, "charon's IKE SA is a new one");
        assertEquals([child.spiIn, child.spiOut], [now.latest.spiOut, now.latest.spiIn]);
        assert(
          child.spiIn !== firstSwanChild.spiIn && child.spiOut !== firstSwanChild.spiOut,
          "charon lists only the new child SPIs",
        );
        assertEquals(
          await lab.ping("rh", SWAN_INNER, { from: OUR_INNER, count: 3 }),
          3,
          "ping to charon after the rekeys",
        );
        assertEquals(
          await lab.ping("swan", OUR_INNER, { from: SWAN_INNER, count: 3 }),
          3,
          "ping from charon after the rekeys",
        );

        // Last, so that everything above is known to hold when only this fails: keys roll over
        // without dropping a packet (issue #4), so TCP retransmits nothing around the rekeys.
        // Losses elsewhere (a CPU-starved process overflowing its socket buffer on a loaded
        // machine) are reported, not failed: they are not what this test is about. charon
        // starts its exchanges a little before our first log line about them.
        const childStart = ours
          ? timedMatches(log, /rekeying CHILD_SA /)[0]!.time
          : newChild.time - CHARON_LEAD_MS;
        const childEnd = timedMatches(
          log,
          ours
            ? new RegExp(`CHILD_SA 0x${firstChild.spiIn}/0x${firstChild.spiOut} deleted`)
            : new RegExp(`peer deleted CHILD_SA out 0x${firstChild.spiOut};`),
        )[0]!.time;
        const windows = [
          {
            from: ours
              ? timedMatches(log, /rekeying IKE_SA with /)[0]!.time
              : rekeyed!.time - CHARON_LEAD_MS,
            to: oldIkeGone!.time + LOSS_DETECTION_MS,
          },
          { from: childStart, to: childEnd + LOSS_DETECTION_MS },
        ];
        const { inside, outside } = retransmissionsWithin(retransmits, windows);
        const drops = await socketDrops(lab, to);
        if (outside.length > 0) {
          console.log(
            `retransmissions away from the rekeys: ${describeIncreases(outside)}; ${to} ` +
              `socket buffer drops: UDP ${drops.udp}, raw ${drops.raw}`,
          );
        }
        const at = (t: number) => new Date(t).toISOString().slice(11, 23);
        assertEquals(
          describeIncreases(inside),
          "none",
          `TCP ${from} → ${to} retransmitted around the rekeys: packets were lost. IKE rekey ` +
            `${at(windows[0]!.from)}–${at(windows[0]!.to)}; child rekey ${at(childStart)}–${
              at(windows[1]!.to)
            }: we installed the new pair at ${at(newChild.time)} as ${
              ours ? "initiator" : "responder"
            }; ${to} socket buffer drops: UDP ${drops.udp}, raw ${drops.raw}`,
        );
        artifacts.passed();
      }, { timeoutMs: 90_000 }),
  });
}

// --- Loss --------------------------------------------------------------------------------------

const LOSS_PERCENT = 30;
/** IKE SAs per direction, all negotiated at once. */
const LOSS_SAS = 8;
/**
 * How long the SAs get. With 30 % loss each way a request/response pair gets through with
 * 0.7² = 49 %, and the timeout doubles per try, so the chance that one exchange needs more than
 * T seconds is about 1/T: a fixed window can never promise that *every* SA makes it. In 25 s,
 * by simulation, each SA succeeds with about 93 %, so demanding {@link LOSS_MIN_PER_DIRECTION}
 * of {@link LOSS_SAS} per direction (and {@link LOSS_MIN_TOTAL} of all) fails a correct
 * implementation about once in 10⁴ runs; so does demanding that at least one of our SAs got in
 * on an attempt that retransmitted (three in four need to).
 */
const LOSS_WINDOW_MS = 25_000;
const LOSS_MIN_PER_DIRECTION = 4;
const LOSS_MIN_TOTAL = 10;

/**
 * nftables in the router: IKE on 500 and IKE on 4500 (non-ESP marker: four zero octets after
 * the UDP header) lose {@link LOSS_PERCENT} % in both directions; ESP in UDP is untouched.
 */
function lossRuleset(percent: number): string {
  return `table inet rht_loss {
  counter ike {}
  counter dropped {}
  chain forward {
    type filter hook forward priority 0; policy accept;
    udp dport 500 counter name ike
    udp dport 4500 @th,64,32 0 counter name ike
    udp dport 500 numgen random mod 100 < ${percent} counter name dropped drop
    udp dport 4500 @th,64,32 0 numgen random mod 100 < ${percent} counter name dropped drop
  }
}
`;
}

async function nftCounter(lab: NetnsLab, ns: string, name: string): Promise<number> {
  const r = await lab.execChecked(ns, ["nft", "-j", "list", "counter", "inet", "rht_loss", name]);
  const parsed = JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] };
  const counter = parsed.nftables.find((e) => e.counter !== undefined)?.counter;
  if (counter === undefined) throw new Error(`Cannot read nft counter ${name}: ${r.stdout}`);
  return counter.packets;
}

/** charon's responder identity for our initiator k, and its address. */
const responderId = (k: number) => `c${k}.example.net`;
const responderAddress = (k: number) => `198.51.100.${16 + k}`;
/** charon's initiator identity k, and charon's address for all of them. */
const initiatorId = (k: number) => `r${k}.example.net`;
const LOSS_SWAN_OUTER = "198.51.100.2";

/**
 * charon's side of the loss test: responder connection `c<k>` on its own address (our
 * appliance initiates to each), initiator connection `r<k>` toward us; child k of either kind
 * has its own LAN 10.2.<k>.0/24 (initiators 10.2.<100+k>.0/24).
 */
function lossSwanctlConf(psk: string, ourId: string): string {
  const connection = (name: string, options: {
    local: string;
    localId: string;
    remote: string;
    lan: string;
  }) =>
    `    ${name} {
        version = 2
        local_addrs = ${options.local}
        remote_addrs = ${options.remote}
        proposals = ${IKE_SUITE}
        local {
            auth = psk
            id = ${options.localId}
        }
        remote {
            auth = psk
            id = ${ourId}
        }
        children {
            ${name} {
                local_ts = ${options.lan}
                remote_ts = ${OUR_LAN}
                esp_proposals = aes128gcm16
                mode = tunnel
                start_action = none
            }
        }
    }`;
  const connections: string[] = [];
  for (let k = 1; k <= LOSS_SAS; k++) {
    connections.push(connection(`c${k}`, {
      local: responderAddress(k),
      localId: responderId(k),
      remote: OUR_OUTER,
      lan: `10.2.${k}.0/24`,
    }));
    connections.push(connection(`r${k}`, {
      local: LOSS_SWAN_OUTER,
      localId: initiatorId(k),
      remote: OUR_OUTER,
      lan: `10.2.${100 + k}.0/24`,
    }));
  }
  return `# Generated by test/interop/strongswan_lifecycle_test.ts
connections {
${connections.join("\n")}
}
secrets {
    ike-all {
        secret = "${psk}"
    }
}
`;
}

Deno.test({
  name: `${LOSS_SAS} IKE SAs each way establish through retransmission with ${LOSS_PERCENT} % ` +
    `IKE loss (we and strongSwan as initiator)`,
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("rh");
      await lab.addNamespace("router");
      await lab.addNamespace("swan");
      await lab.link("rh", `${OUR_OUTER}/24`, "router", "203.0.113.254/24");
      const { devB: swanDevice } = await lab.link(
        "router",
        "198.51.100.254/24",
        "swan",
        `${LOSS_SWAN_OUTER}/24`,
      );
      await lab.enableForwarding("router");
      await lab.addRoute("rh", "198.51.100.0/24", ["via", "203.0.113.254"]);
      await lab.addRoute("swan", "203.0.113.0/24", ["via", "198.51.100.254"]);
      for (let k = 1; k <= LOSS_SAS; k++) {
        await lab.addAddress("swan", `${responderAddress(k)}/32`, swanDevice);
        // kernel-libipsec routes need a source address inside each local selector.
        await lab.addAddress("swan", `10.2.${k}.1/32`);
        await lab.addAddress("swan", `10.2.${100 + k}.1/32`);
      }
      const rules = await Deno.makeTempFile({ prefix: `${lab.prefix}-nft-` });
      lab.onCleanup(() => Deno.remove(rules).catch(() => {}));
      await Deno.writeTextFile(rules, lossRuleset(LOSS_PERCENT));
      await lab.execChecked("router", ["nft", "-f", rules]);

      const psk = randomPsk();
      const peers: RockhopperPeerOptions[] = [];
      for (let k = 1; k <= LOSS_SAS; k++) {
        peers.push({ id: `fqdn:${responderId(k)}`, address: responderAddress(k), auto: "start" });
        peers.push({ id: `fqdn:${initiatorId(k)}`, auto: "add" });
      }
      const rh = new RockhopperNode(lab, {
        namespace: "rh",
        listenAddress: OUR_OUTER,
        tunnelInterface: TUNNEL_DEVICE,
        tunnelAddress: `${OUR_INNER}/24`,
        ikeSuites: [IKE_SUITE],
        espSuites: ["aes128gcm16"],
        dpd: "0",
        retransmitTimeout: "1s",
        retransmitTries: 4,
        trafficLocal: [OUR_LAN],
        trafficRemote: ["10.2.0.0/16"],
        myId: OUR_ID,
        realmPsk: psk,
        peers,
      });
      const swan = new StrongSwanPeer(lab, {
        namespace: "swan",
        localAddress: LOSS_SWAN_OUTER,
        remoteAddress: OUR_OUTER,
        localId: SWAN_ID,
        remoteId: OUR_ID.slice("fqdn:".length),
        psk,
        localTs: SWAN_LAN,
        remoteTs: OUR_LAN,
        // The same schedule as ours (1 s, doubling, 4 retransmissions), no jitter; no limits
        // on half-open SAs from one address (our appliance opens eight at once), and enough
        // worker threads for sixteen exchanges plus vici.
        extraCharonConfig: `    retransmit_timeout = 1
    retransmit_base = 2
    retransmit_tries = 4
    retransmit_jitter = 0
    block_threshold = 100
    cookie_threshold = 100
    cookie_threshold_ip = 100
    threads = 48
`,
      });
      const artifacts = new FailureArtifacts(lab, "loss");
      artifacts.add("rockhopper", rh);
      artifacts.add("charon", swan);

      await swan.start();
      const conf = `${swan.dir}/swanctl/loss.conf`;
      await Deno.writeTextFile(conf, lossSwanctlConf(psk, OUR_ID.slice("fqdn:".length)), {
        mode: 0o600,
      });
      await swan.swanctl(["--load-all", "--noprompt", "--file", conf]);

      // Both directions at once: our appliance initiates to c1..c8, charon initiates r1..r8.
      const started = Date.now();
      await rh.start();
      // `--timeout 1`: swanctl detaches and charon goes on alone, keeping its threads free.
      const initiations = [];
      for (let k = 1; k <= LOSS_SAS; k++) {
        initiations.push(
          swan.swanctl(["--initiate", "--child", `r${k}`, "--timeout", "1"], { check: false }),
        );
      }
      await Promise.all(initiations);
      // Up means up for the initiator: it has the IKE_AUTH response, so both sides are done.
      // Ours: an IKE SA to c<k> with its child; charon's: r<k> ESTABLISHED with its child.
      const count = async () => {
        const log = await rh.logText();
        const withChild = new Set(
          timedMatches(log, /CHILD_SA installed: /).map((m) => m.serial),
        );
        const retransmitted = new Set(
          timedMatches(log, /retransmit \d+ of request [01]$/).map((m) => m.serial),
        );
        // Our SAs to c<k> (by serial: a failed attempt and its retry are different SAs).
        const oursUp = timedMatches(log, /IKE_SA established: \S+ \S+ ↔ fqdn:(c\d+)\./)
          .filter((m) => withChild.has(m.serial));
        const theirs = new Set(
          (await swan.listSas())
            .filter((sa) =>
              sa.state === "ESTABLISHED" && sa.childSas.some((c) => c.state === "INSTALLED")
            )
            .map((sa) => sa.name)
            .filter((name) => name.startsWith("r")),
        ).size;
        return {
          ours: new Set(oursUp.map((m) => m.match[1])).size,
          oursRetransmitted: oursUp.filter((m) => retransmitted.has(m.serial)).length,
          theirs,
        };
      };
      const deadline = started + LOSS_WINDOW_MS;
      let up = await count();
      while (up.ours + up.theirs < 2 * LOSS_SAS && Date.now() < deadline) {
        await sleep(500);
        up = await count();
      }
      const elapsed = (Date.now() - started) / 1000;
      const { ours, oursRetransmitted, theirs } = up;

      const log = await rh.logText();
      const charonLog = await swan.logText();
      const ourRetransmits = timedMatches(log, /retransmit \d+ of request [01]$/).length;
      const ourRepeats = timedMatches(log, /request [01] retransmitted; repeating/).length;
      const charonRetransmits =
        (charonLog.match(/retransmit \d+ of request with message ID [01]$/gm) ?? []).length;
      const dropped = await nftCounter(lab, "router", "dropped");
      const ike = await nftCounter(lab, "router", "ike");
      console.log(
        `loss: ${dropped} of ${ike} IKE packets dropped; after ${elapsed.toFixed(1)} s ` +
          `${ours}/${LOSS_SAS} of our (${oursRetransmitted} after retransmitting) and ` +
          `${theirs}/${LOSS_SAS} of charon's initiations are up; ` +
          `we retransmitted ${ourRetransmits}× and repeated a response ${ourRepeats}×, ` +
          `charon retransmitted ${charonRetransmits}×`,
      );
      assert(dropped > 0, "the router dropped IKE packets");
      assert(ours >= LOSS_MIN_PER_DIRECTION, `only ${ours} of our ${LOSS_SAS} initiations made it`);
      assert(
        theirs >= LOSS_MIN_PER_DIRECTION,
        `only ${theirs} of charon's ${LOSS_SAS} initiations made it`,
      );
      assert(ours + theirs >= LOSS_MIN_TOTAL, `only ${ours + theirs} SAs made it`);
      assert(oursRetransmitted > 0, "none of our SAs needed a retransmission to get in");
      assert(charonRetransmits > 0, "charon retransmitted");
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
