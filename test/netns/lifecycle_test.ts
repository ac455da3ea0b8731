/**
 * The IKEv2 lifecycle end to end, ours ↔ ours (issue #4): rekeying during a steady TCP transfer
 * with either side as rekey initiator, and liveness checks when the link dies (dpd_action
 * restart, clear and hold). Loss is tested against strongSwan
 * (test/interop/strongswan_lifecycle_test.ts), where one charon plays many peers at once.
 *
 * Two appliances: gw1 (198.51.100.1, LAN 10.1.0.0/24, initiator, `auto="start"`) and gw2
 * (198.51.100.2, LAN 10.2.0.0/24, responder), joined by a veth. Timers are shortened by
 * configuration only (`rekey="10s"`, `dpd="2s"`, …).
 */
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { type NetnsLab, type NetnsProcess, requireRoot, withLab } from "./harness.ts";
import { tcpTransfer } from "./traffic.ts";
import { FailureArtifacts, RockhopperNode, type RockhopperNodeOptions } from "./rockhopper_node.ts";
import {
  boundTcpBuffers,
  describeIncreases,
  escapeRegExp,
  installedChildSas,
  pollFor,
  randomPsk,
  retransmissionBudgetMs,
  retransmissionsWithin,
  SA_GAP_PATTERN,
  shapeEgress,
  sleep,
  socketDrops,
  timedMatches,
  watchTcpRetransmissions,
} from "./lifecycle_checks.ts";

const GW1_ID = "fqdn:gw1.example.com";
const GW2_ID = "fqdn:gw2.example.com";
const GW1_INNER = "10.1.0.1";
const GW2_INNER = "10.2.0.1";
const TUNNEL_DEVICE = "rhp1";

type Gateway = "gw1" | "gw2";
type NodeOverrides = Partial<Omit<RockhopperNodeOptions, "namespace" | "peers" | "myId">>;

/** Per-node overrides of {@link directPair}. */
interface PairOverrides {
  gw1?: NodeOverrides;
  gw2?: NodeOverrides;
  /** gw1's address in gw2's `<peer>` (gw2 stays `auto="add"`); absent by default. */
  gw1AddressOnGw2?: string;
}

/** Options of gw1 (the initiator) and gw2 (the responder); `gw2Address` is gw1's peer address. */
function gatewayOptions(
  psk: string,
  gw2Address: string,
  overrides: PairOverrides = {},
): { gw1: RockhopperNodeOptions; gw2: RockhopperNodeOptions } {
  return {
    gw1: {
      namespace: "gw1",
      listenAddress: "198.51.100.1",
      tunnelInterface: TUNNEL_DEVICE,
      tunnelAddress: `${GW1_INNER}/24`,
      trafficLocal: ["10.1.0.0/24"],
      trafficRemote: ["10.2.0.0/24"],
      myId: GW1_ID,
      peers: [{ id: GW2_ID, address: gw2Address, auto: "start", psk }],
      ...overrides.gw1,
    },
    gw2: {
      namespace: "gw2",
      listenAddress: gw2Address,
      tunnelInterface: TUNNEL_DEVICE,
      tunnelAddress: `${GW2_INNER}/24`,
      trafficLocal: ["10.2.0.0/24"],
      trafficRemote: ["10.1.0.0/24"],
      myId: GW2_ID,
      peers: [{
        id: GW1_ID,
        auto: "add",
        psk,
        ...(overrides.gw1AddressOnGw2 === undefined ? {} : { address: overrides.gw1AddressOnGw2 }),
      }],
      ...overrides.gw2,
    },
  };
}

/** gw1 and gw2 on one veth (veth0a in gw1, veth0b in gw2), nodes created but not started. */
async function directPair(
  lab: NetnsLab,
  label: string,
  overrides: PairOverrides,
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode; artifacts: FailureArtifacts }> {
  await lab.addNamespace("gw1");
  await lab.addNamespace("gw2");
  await lab.link("gw1", "198.51.100.1/24", "gw2", "198.51.100.2/24");
  const options = gatewayOptions(randomPsk(), "198.51.100.2", overrides);
  const gw1 = new RockhopperNode(lab, options.gw1);
  const gw2 = new RockhopperNode(lab, options.gw2);
  const artifacts = new FailureArtifacts(lab, label);
  artifacts.add("gw1", gw1);
  artifacts.add("gw2", gw2);
  return { gw1, gw2, artifacts };
}

/** Starts the responder, then the initiator, and waits for the first child SA on both. */
async function establish(gw1: RockhopperNode, gw2: RockhopperNode): Promise<void> {
  await gw2.start();
  await gw1.start();
  await gw1.waitForChildSa();
  await gw2.waitForChildSa();
}

async function assertPingBothWays(lab: NetnsLab, count = 3): Promise<void> {
  assertEquals(await lab.ping("gw1", GW2_INNER, { from: GW1_INNER, count }), count);
  assertEquals(await lab.ping("gw2", GW1_INNER, { from: GW2_INNER, count }), count);
}

// --- Rekeying ----------------------------------------------------------------------------------

/**
 * The rekeying side rekeys the IKE SA after 9–10 s and the child SA after 10.8–12 s (10 % jitter
 * earlier), so the child rekey runs over the new IKE SA. The transfer is shaped to last about
 * 15 s and starts about 1 s after the SA is up: both rekeys fall inside it.
 */
const IKE_REKEY = "10s";
const ESP_REKEY = "12s";
const TRANSFER_MBIT = 16;
const TRANSFER_MIB = 28;
/**
 * From a rekey's last event to the sample that shows its losses: a fast retransmit follows
 * about one round trip (< 150 ms here) after the loss, an RTO at least 200 ms; sampled every
 * 250 ms.
 */
const LOSS_DETECTION_MS = 1_500;

for (
  const { rekeyer, pfs } of [
    { rekeyer: "gw1", pfs: true },
    { rekeyer: "gw2", pfs: false },
  ] as const
) {
  const other: Gateway = rekeyer === "gw1" ? "gw2" : "gw1";
  const role = rekeyer === "gw1" ? "IKE initiator" : "IKE responder";
  Deno.test({
    name: `${rekeyer} (${role}) rekeys the IKE SA and then the child SA (PFS ${
      pfs ? "yes" : "no"
    }) during a checked TCP transfer; the old SAs are deleted`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const rekeying: NodeOverrides = { ikeRekey: IKE_REKEY, espRekey: ESP_REKEY, pfs };
        const quiet: NodeOverrides = { ikeRekey: "0", espRekey: "0", pfs };
        const nodes = await directPair(lab, `rekey-${rekeyer}`, {
          gw1: { dpd: "0", ...(rekeyer === "gw1" ? rekeying : quiet) },
          gw2: { dpd: "0", ...(rekeyer === "gw2" ? rekeying : quiet) },
        });
        const { artifacts } = nodes;
        await establish(nodes.gw1, nodes.gw2);
        const r = nodes[rekeyer];
        const o = nodes[other];
        const [first] = installedChildSas(await r.logText());
        assert(first !== undefined);

        // From the rekey responder to the rekeyer: the responder switches to its new outbound SA
        // first, so this is the direction in which a make-before-break gap would lose data.
        // Shaped on the sender's tunnel device (steady, long enough) with bounded TCP buffers,
        // so that the shaper never drops and every TCP retransmission means a lost packet.
        const [from, to] = [other, rekeyer];
        const address = { gw1: GW1_INNER, gw2: GW2_INNER };
        await shapeEgress(lab, from, TUNNEL_DEVICE, TRANSFER_MBIT);
        await boundTcpBuffers(lab, from);
        await boundTcpBuffers(lab, to);
        const watch = await watchTcpRetransmissions(lab, from);
        const transferStart = Date.now();
        const transfer = await tcpTransfer(lab, {
          from,
          to,
          fromAddress: address[from],
          toAddress: address[to],
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

        const rLog = await r.logText();
        const oLog = await o.logText();
        const during = (what: string, t: { time: number } | undefined) => {
          assert(t !== undefined, `${what}: not logged`);
          assert(
            t.time > transferStart && t.time < transferEnd,
            `${what} at ${new Date(t.time).toISOString()}, outside the transfer (${
              new Date(transferStart).toISOString()
            } – ${new Date(transferEnd).toISOString()})`,
          );
        };

        // IKE SA: the rekeyer makes #n, deletes the old SA, and the peer honours it.
        const ikeRekeyed = timedMatches(rLog, /IKE_SA rekeyed as #(\d+); deleting the old one/)[0];
        during(`${rekeyer}: IKE_SA rekeyed`, ikeRekeyed);
        const oldIke = ikeRekeyed!.serial!;
        const newIke = Number(ikeRekeyed!.match[1]);
        assertNotEquals(newIke, oldIke);
        assert(
          timedMatches(rLog, /rekeying IKE_SA with /)[0]?.serial === oldIke,
          `${rekeyer} started the IKE rekey on #${oldIke}`,
        );
        const rDeleted = timedMatches(
          rLog,
          /IKE_SA \S+ with \S+ deleted: delete acknowledged by the peer/,
        ).find((m) => m.serial === oldIke);
        during(`${rekeyer}: old IKE_SA #${oldIke} deleted`, rDeleted);
        const peerRekeyed = timedMatches(oLog, /IKE_SA rekeyed by \S+ as #(\d+)/)[0];
        during(`${other}: IKE_SA rekeyed by the peer`, peerRekeyed);
        const oOldIke = peerRekeyed!.serial!;
        const oNewIke = Number(peerRekeyed!.match[1]);
        const oDeleted = timedMatches(oLog, /IKE_SA \S+ with \S+ deleted: deleted by peer/)
          .find((m) => m.serial === oOldIke);
        during(`${other}: old IKE_SA #${oOldIke} deleted by the peer`, oDeleted);

        // Child SA: rekeyed over the new IKE SA, new SPIs, the old pair deleted on both sides.
        const childRekeyed = timedMatches(rLog, /CHILD_SA (0x[0-9a-f]{8}) rekeyed; deleting/)[0];
        during(`${rekeyer}: CHILD_SA rekeyed`, childRekeyed);
        assertEquals(childRekeyed!.match[1], `0x${first.spiIn}`, "the first child was rekeyed");
        assertEquals(childRekeyed!.serial, newIke, "the child rekey ran over the new IKE SA");
        const rChildren = installedChildSas(rLog);
        const oChildren = installedChildSas(oLog);
        assert(rChildren.length >= 2 && oChildren.length >= 2, "both sides installed a new pair");
        const [rOld, rNew] = [rChildren[0]!, rChildren[1]!];
        const [oOld, oNew] = [oChildren[0]!, oChildren[1]!];
        assertEquals([rOld.spiIn, rOld.spiOut], [oOld.spiOut, oOld.spiIn], "first pair matches");
        assertEquals([rNew.spiIn, rNew.spiOut], [oNew.spiOut, oNew.spiIn], "new pair matches");
        assert(
          rNew.spiIn !== rOld.spiIn && rNew.spiOut !== rOld.spiOut,
          `the rekey changed the SPIs (${rOld.spiIn}/${rOld.spiOut} → ${rNew.spiIn}/${rNew.spiOut})`,
        );
        assertEquals(rNew.serial, newIke, `${rekeyer} installed the new pair under #${newIke}`);
        assertEquals(oNew.serial, oNewIke, `${other} installed the new pair under #${oNewIke}`);
        assertEquals([rNew.localTs, rNew.remoteTs], [rOld.localTs, rOld.remoteTs]);
        const rOldGone = timedMatches(
          rLog,
          new RegExp(`CHILD_SA 0x${rOld.spiIn}/0x${rOld.spiOut} deleted`),
        )[0];
        during(`${rekeyer}: old CHILD_SA deleted`, rOldGone);
        const oOldGone = timedMatches(
          oLog,
          new RegExp(`peer deleted CHILD_SA out 0x${oOld.spiOut}; deleted in 0x${oOld.spiIn}`),
        )[0];
        during(`${other}: old CHILD_SA deleted on the peer's request`, oOldGone);
        assert(rNew.time < rOldGone!.time, "make-before-break: new pair before the old delete");

        // Neither data path logged a packet without an SA (ESP for an SPI that no realm knows
        // is only counted, not logged: the TCP check below covers that).
        for (const [name, log] of [[rekeyer, rLog], [other, oLog]] as const) {
          const gaps = timedMatches(log, SA_GAP_PATTERN);
          assertEquals(
            gaps.map((g) => g.match.input),
            [],
            `${name} dropped packets for a missing SA`,
          );
        }
        await assertPingBothWays(lab);

        // Last, so that everything above is known to hold when only this fails: keys roll over
        // without dropping a packet (issue #4), so TCP retransmits nothing around the rekeys.
        // Losses elsewhere (a CPU-starved appliance overflowing its socket buffer on a loaded
        // machine) are reported, not failed: they are not what this test is about.
        const windows = [
          {
            from: timedMatches(rLog, /rekeying IKE_SA with /)[0]!.time,
            to: Math.max(rDeleted!.time, oDeleted!.time) + LOSS_DETECTION_MS,
          },
          {
            from: timedMatches(rLog, /rekeying CHILD_SA /)[0]!.time,
            to: Math.max(rOldGone!.time, oOldGone!.time) + LOSS_DETECTION_MS,
          },
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
            `${at(windows[0]!.from)}–${at(windows[0]!.to)}; child rekey ${at(windows[1]!.from)}–${
              at(windows[1]!.to)
            }: new pair on ${other} (responder) at ${at(oNew.time)}, on ${rekeyer} at ${
              at(rNew.time)
            }; ${to} socket buffer drops: UDP ${drops.udp}, raw ${drops.raw}`,
        );
        artifacts.passed();
      }, { timeoutMs: 90_000 }),
  });
}

// --- Liveness (DPD) ----------------------------------------------------------------------------

const DPD_SECONDS = 2;
const RETRANSMIT_TIMEOUT_SECONDS = 1;
const RETRANSMIT_TRIES = 2;
/** A liveness request goes out at most 2 × dpd after the last packet (see engine.ts). */
const DETECTION_BOUND_MS = 2 * DPD_SECONDS * 1000 +
  retransmissionBudgetMs(RETRANSMIT_TIMEOUT_SECONDS, RETRANSMIT_TRIES);
/** Log polling (100 ms), timer and scheduling latency on a busy 2-core CI machine. */
const DETECTION_SLACK_MS = 1_500;
/** What a side logs when its liveness check toward `peerAddress` went unanswered. */
function deadPeerPattern(peerAddress: string): RegExp {
  return new RegExp(
    `${
      escapeRegExp(peerAddress)
    }:\\d+ did not answer INFORMATIONAL after ${RETRANSMIT_TRIES} retransmissions`,
  );
}

const DPD_OPTIONS: NodeOverrides = {
  dpd: `${DPD_SECONDS}s`,
  retransmitTimeout: `${RETRANSMIT_TIMEOUT_SECONDS}s`,
  retransmitTries: RETRANSMIT_TRIES,
};

/**
 * Keeps ESP flowing both ways (gw1 pings gw2) until the cut, so that no liveness check can
 * start before it; cuts the link by setting gw2's veth down; waits until every node in
 * `watchers` declared its peer dead and checks each detection time against the bound computed
 * from the configuration. Returns the cut time and each detection time.
 */
async function cutAndDetect(
  lab: NetnsLab,
  watchers: readonly { name: Gateway; node: RockhopperNode; peerAddress: string }[],
): Promise<{ cutAt: number; detectedAt: Map<Gateway, number> }> {
  const ping: NetnsProcess = lab.spawn("gw1", [
    "ping",
    "-n",
    "-q",
    "-i",
    "0.2",
    "-I",
    GW1_INNER,
    GW2_INNER,
  ]);
  // One full liveness interval with traffic: any earlier check has been answered by now.
  await sleep(DPD_SECONDS * 1000 + 500);
  const cutAt = Date.now();
  await lab.execChecked("gw2", ["ip", "link", "set", "veth0b", "down"]);
  const budget = retransmissionBudgetMs(RETRANSMIT_TIMEOUT_SECONDS, RETRANSMIT_TRIES);
  const detectedAt = new Map<Gateway, number>();
  try {
    for (const { name, node, peerAddress } of watchers) {
      const pattern = deadPeerPattern(peerAddress);
      await node.waitForLog(
        pattern,
        Math.max(0, cutAt + DETECTION_BOUND_MS + DETECTION_SLACK_MS + 5_000 - Date.now()),
      );
      const log = await node.logText();
      const at = timedMatches(log, pattern)[0]!.time;
      detectedAt.set(name, at);
      const took = at - cutAt;
      console.log(
        `${name}: dead peer detected ${(took / 1000).toFixed(1)} s after the cut (bound ${
          DETECTION_BOUND_MS / 1000
        } s: 2 × dpd ${DPD_SECONDS} s + retransmissions ${budget / 1000} s)`,
      );
      assert(
        took <= DETECTION_BOUND_MS + DETECTION_SLACK_MS,
        `${name}: detection took ${took} ms, more than ${DETECTION_BOUND_MS} ms ` +
          `(+${DETECTION_SLACK_MS} ms)`,
      );
      // The check started after the cut, so the whole retransmission budget lies in between.
      assert(
        took >= budget - 500,
        `${name}: detection took ${took} ms, less than the ${budget} ms budget`,
      );
      const between = (m: { time: number }) => m.time >= cutAt && m.time <= at;
      assert(
        timedMatches(log, /no traffic from \S+ for \d+ s: liveness check/).some(between),
        `${name} logged the liveness check between the cut and the detection`,
      );
      for (let n = 1; n <= RETRANSMIT_TRIES; n++) {
        assert(
          timedMatches(log, new RegExp(`retransmit ${n} of request`)).some(between),
          `${name} logged retransmission ${n} of the liveness check`,
        );
      }
    }
  } finally {
    await ping.kill();
  }
  return { cutAt, detectedAt };
}

/**
 * How long the link stays down after the detection: within the restart attempt's own
 * retransmissions, and past them (the attempt fails; the realm must keep trying).
 */
const OUTAGES = [
  { label: "during the restart attempt", afterDetectionMs: 1_000 },
  {
    label: "after the first restart attempt gave up",
    afterDetectionMs: retransmissionBudgetMs(RETRANSMIT_TIMEOUT_SECONDS, RETRANSMIT_TRIES) + 2_000,
  },
] as const;

for (const outage of OUTAGES) {
  Deno.test({
    name:
      `dpd_action=restart: a dead peer is detected in time and the SA comes back when the link returns ${outage.label}`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const { gw1, gw2, artifacts } = await directPair(lab, "dpd-restart", {
          gw1: { ...DPD_OPTIONS, dpdAction: "restart" },
          gw2: { dpd: "0" },
        });
        await establish(gw1, gw2);
        await assertPingBothWays(lab);
        const firstChild = await gw1.waitForChildSa();

        const detection = await cutAndDetect(lab, [
          { name: "gw1", node: gw1, peerAddress: "198.51.100.2" },
        ]);
        const detectedAt = detection.detectedAt.get("gw1")!;
        await gw1.waitForLog(
          /dpd_action=restart: initiating to fqdn:gw2\.example\.com again/,
          2_000,
        );
        assert(
          timedMatches(await gw1.logText(), /initiating IKE_SA to 198\.51\.100\.2:500/)
            .some((m) => m.time >= detectedAt),
          "gw1 initiates again after the detection",
        );
        assertEquals(
          await lab.ping("gw1", GW2_INNER, { from: GW1_INNER, count: 1, wait: 1 }),
          0,
          "nothing crosses while the link is down",
        );

        // The link returns; gw1 re-establishes on its own and gw2 drops the stale SA.
        await sleep(Math.max(0, detectedAt + outage.afterDetectionMs - Date.now()));
        const upAt = Date.now();
        await lab.execChecked("gw2", ["ip", "link", "set", "veth0b", "up"]);
        const child = await pollFor("a new CHILD_SA on gw1", async () => {
          const children = installedChildSas(await gw1.logText());
          return children.find((c) => c.time > detectedAt);
        }, 30_000);
        console.log(
          `link up ${((upAt - detectedAt) / 1000).toFixed(1)} s after the detection; ` +
            `re-established ${((child.time - upAt) / 1000).toFixed(1)} s later`,
        );
        assertNotEquals(child.spiIn, firstChild.spiIn, "a new child SA");
        await gw2.waitForLog(/replaced by IKE_SA #\d+ \(peer sent INITIAL_CONTACT\)/, 10_000);
        await assertPingBothWays(lab);
        artifacts.passed();
      }, { timeoutMs: 90_000 }),
  });
}

Deno.test({
  name: "dpd_action=clear and hold: both ends detect the dead peer in time; the cleared end " +
    "stays quiet, the held end re-initiates when traffic needs it",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const { gw1, gw2, artifacts } = await directPair(lab, "dpd-clear-hold", {
        gw1: { ...DPD_OPTIONS, dpdAction: "clear" },
        gw2: { ...DPD_OPTIONS, dpdAction: "hold" },
        // gw2 knows gw1's address (auto="add": it never initiates at start-up), so it can hold.
        gw1AddressOnGw2: "198.51.100.1",
      });
      await establish(gw1, gw2);
      await assertPingBothWays(lab);

      const { detectedAt } = await cutAndDetect(lab, [
        { name: "gw1", node: gw1, peerAddress: "198.51.100.2" },
        { name: "gw2", node: gw2, peerAddress: "198.51.100.1" },
      ]);
      const last = Math.max(...detectedAt.values());
      await gw1.waitForLog(
        /IKE_SA \S+ with fqdn:gw2\.example\.com deleted: \S+ did not answer INFORMATIONAL/,
        2_000,
      );
      await gw2.waitForLog(
        /dpd_action=hold: initiating to fqdn:gw1\.example\.com again when traffic needs it/,
        2_000,
      );

      // The link returns; without traffic neither side does anything (two liveness intervals).
      await lab.execChecked("gw2", ["ip", "link", "set", "veth0b", "up"]);
      await sleep(2 * DPD_SECONDS * 1000 + 1_000);
      for (const [name, node] of [["gw1", gw1], ["gw2", gw2]] as const) {
        const log = await node.logText();
        assertEquals(
          timedMatches(log, /initiating IKE_SA to |new responder SA for /)
            .filter((m) => m.time > last).map((m) => m.match.input),
          [],
          `${name} stays quiet after the detection`,
        );
      }
      assert(!/dpd_action=/.test(await gw1.logText()), "clear takes no further action");
      assertEquals(
        await lab.ping("gw1", GW2_INNER, { from: GW1_INNER, count: 2, wait: 1 }),
        0,
        "no route into the tunnel once the SA is cleared",
      );

      // Traffic on the held side (gw2) brings the tunnel back; gw1 only responds.
      // The packet must reach the tunnel device for the data path to see it (and ask for an SA).
      const route = await lab.exec("gw2", [
        "ip",
        "-o",
        "route",
        "get",
        GW1_INNER,
        "from",
        GW2_INNER,
      ]);
      const trafficAt = Date.now();
      await lab.ping("gw2", GW1_INNER, { from: GW2_INNER, count: 1, wait: 1 });
      try {
        await gw2.waitForLog(/traffic for held peer fqdn:gw1\.example\.com: initiating/, 5_000);
      } catch (e) {
        throw new Error(
          `gw2 did not re-initiate for traffic to ${GW1_INNER}; its route there: ${
            (route.stdout || route.stderr).trim()
          }\n${(e as Error).message}`,
        );
      }
      const child = await pollFor("a new CHILD_SA on gw2", async () => {
        const children = installedChildSas(await gw2.logText());
        return children.find((c) => c.time > trafficAt);
      }, 15_000);
      console.log(
        `gw2 re-established ${((child.time - trafficAt) / 1000).toFixed(1)} s after the traffic`,
      );
      assertEquals(
        timedMatches(await gw1.logText(), /initiating IKE_SA to /)
          .filter((m) => m.time > last).length,
        0,
        "gw1 (clear) never initiated again",
      );
      await assertPingBothWays(lab);
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
