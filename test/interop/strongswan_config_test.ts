/**
 * Configuration payloads against a real strongSwan charon (RFC 7296 §2.19).
 *
 * 1. Our gateway lends addresses: three charon road warriors (`vips = 0.0.0.0`, one namespace
 *    each, behind a router) get addresses from our two-address pool, show them in
 *    `swanctl --list-sas` and ping an address behind our gateway from them. Leases are released
 *    on disconnect, kept for their identity while fresh addresses remain, refused with
 *    INTERNAL_ADDRESS_FAILURE when all are online, and handed to another identity once free.
 * 2. Our client asks charon's pool (`pools`): the address lands on our TUN, DNS and domain are
 *    logged, a ping from the address crosses the tunnel, and the address leaves with the SA.
 */
import { assert, assertEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import { FailureArtifacts, RockhopperNode, waitForLogText } from "../netns/rockhopper_node.ts";
import { type IkeSaStatus, StrongSwanPeer } from "./strongswan.ts";

const OUR_OUTER = "203.0.113.1";
const ROUTER_OUTER = "203.0.113.254";
const OUR_INNER = "10.1.0.1";
const OUR_LAN = "10.1.0.0/24";
const OUR_ID = "fqdn:gw.example.com";
const POOL = "10.3.0.2/31";
const DNS = "10.1.0.53";
const DOMAIN = "corp.example.com";

function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** How often `pattern` occurs in `text`. */
function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

/** Waits until `pattern` has occurred `times` times in `node`'s log. */
async function waitForCount(
  node: RockhopperNode,
  pattern: RegExp,
  times: number,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count(await node.logText(), pattern) < times) {
    if (Date.now() >= deadline) {
      throw new Error(`Cannot see ${pattern} ${times} times in our log within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The route `ns` uses toward `address` (`ip -j route get`); no device when there is none. */
async function routeTo(
  lab: NetnsLab,
  ns: string,
  address: string,
): Promise<{ dev?: string; prefsrc?: string }> {
  const { code, stdout } = await lab.exec(ns, ["ip", "-j", "route", "get", address]);
  if (code !== 0) return {}; // "Network is unreachable"
  return (JSON.parse(stdout) as { dev: string; prefsrc?: string }[])[0] ?? {};
}

/** Addresses on `dev` in `ns` as "address/len". */
async function addressesOn(lab: NetnsLab, ns: string, dev: string): Promise<string[]> {
  const { stdout } = await lab.execChecked(ns, ["ip", "-j", "addr", "show", "dev", dev]);
  const [link] = JSON.parse(stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
  return (link?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

/** Initiates `rw` and returns its established IKE SA and the one address it was given. */
async function connect(rw: StrongSwanPeer): Promise<{ ike: IkeSaStatus; vip: string }> {
  await rw.initiate();
  const ike = await rw.waitEstablished();
  assertEquals(ike.localVips.length, 1, `charon in ${rw.options.namespace} got one address`);
  return { ike, vip: ike.localVips[0]! };
}

Deno.test({
  name:
    "strongSwan road warriors get addresses from our pool, ping through it, and leases follow disconnects",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("rh");
      await lab.addNamespace("router");
      await lab.link("rh", `${OUR_OUTER}/24`, "router", `${ROUTER_OUTER}/24`);
      await lab.enableForwarding("router");
      await lab.addRoute("rh", "198.51.100.0/24", ["via", ROUTER_OUTER]);
      const names = ["rw1", "rw2", "rw3"] as const;
      const psk = Object.fromEntries(names.map((n) => [n, randomPsk()]));
      const rh = new RockhopperNode(lab, {
        namespace: "rh",
        listenAddress: OUR_OUTER,
        tunnelInterface: "rhp0",
        tunnelAddress: `${OUR_INNER}/24`,
        dpd: "0",
        trafficLocal: [OUR_LAN],
        pool: { address: POOL, dns: DNS, domain: DOMAIN, subnets: OUR_LAN },
        myId: OUR_ID,
        peers: names.map((n) => ({ id: `fqdn:${n}.example.com`, psk: psk[n]! })),
      });
      const rws: Record<string, StrongSwanPeer> = {};
      for (const [i, name] of names.entries()) {
        // Router side .1, .5, .9; road warrior .2, .6, .10 of 198.51.100.0/24.
        const routerSide = `198.51.100.${4 * i + 1}`;
        const rwSide = `198.51.100.${4 * i + 2}`;
        await lab.addNamespace(name);
        await lab.link("router", `${routerSide}/30`, name, `${rwSide}/30`);
        await lab.addRoute(name, "203.0.113.0/24", ["via", routerSide]);
        rws[name] = new StrongSwanPeer(lab, {
          namespace: name,
          localAddress: rwSide,
          remoteAddress: OUR_OUTER,
          localId: `${name}.example.com`,
          remoteId: OUR_ID.slice("fqdn:".length),
          psk: psk[name]!,
          localTs: "dynamic",
          remoteTs: OUR_LAN,
          vips: "0.0.0.0",
        });
      }
      const artifacts = new FailureArtifacts(lab, "config-payload-road-warriors");
      artifacts.add("rockhopper", rh);
      for (const name of names) artifacts.add(`charon-${name}`, rws[name]!);
      await rh.start();
      await Promise.all(names.map((n) => rws[n]!.start()));
      await Promise.all(names.map((n) => rws[n]!.loadConfig()));
      const { rw1, rw2, rw3 } = rws as Record<(typeof names)[number], StrongSwanPeer>;

      /** The address `rw` holds is ours, narrowed into its child SA, routed to our TUN, and pings. */
      const checkTunnel = async (name: string, ike: IkeSaStatus, vip: string) => {
        assert(["10.3.0.2", "10.3.0.3"].includes(vip), `${name} got ${vip}, not from ${POOL}`);
        assertEquals(ike.childSas[0]?.localTs, [`${vip}/32`], `${name}'s TSi is its address`);
        assertEquals(ike.childSas[0]?.remoteTs, [OUR_LAN]);
        const route = await routeTo(lab, "rh", vip);
        assertEquals(route.dev, "rhp0", `our route to ${vip} points at the realm's TUN`);
        assertEquals(await lab.ping(name, OUR_INNER, { from: vip, count: 3 }), 3);
      };
      const released = (address: string, name: string) =>
        new RegExp(
          `released virtual IP ${address.replaceAll(".", "\\.")} of fqdn:${name}\\.example\\.com`,
        );

      // 1. rw1 gets the first address and pings our gateway's inner address from it.
      const first = await connect(rw1);
      assertEquals(first.vip, "10.3.0.2");
      await checkTunnel("rw1", first.ike, first.vip);
      await rh.waitForLog(
        /assigning virtual IP 10\.3\.0\.2 to fqdn:rw1\.example\.com \(pool 10\.3\.0\.2\/31\)/,
      );
      // charon's own CFG_REQUEST, decoded by our codec: one empty INTERNAL_IP4_ADDRESS.
      await rh.waitForLog(/CFG_REQUEST from fqdn:rw1\.example\.com: INTERNAL_IP4_ADDRESS\b/);

      // 2. rw1 leaves: the lease is released, the route goes, but 10.3.0.2 stays rw1's.
      await rw1.terminate();
      await waitForCount(rh, released("10.3.0.2", "rw1"), 1);
      assert((await routeTo(lab, "rh", "10.3.0.2")).dev !== "rhp0", "the route left with the SA");
      const second = await connect(rw2);
      assertEquals(second.vip, "10.3.0.3", "a new identity gets the unused address");
      await checkTunnel("rw2", second.ike, second.vip);

      // 3. rw1 comes back and gets its old address.
      const again = await connect(rw1);
      assertEquals(again.vip, "10.3.0.2", "the same identity gets the same address");
      await checkTunnel("rw1", again.ike, again.vip);

      // 4. Both addresses are online: rw3 is refused with INTERNAL_ADDRESS_FAILURE.
      await rw3.swanctl(["--initiate", "--child", rw3.childName, "--timeout", "15"], {
        check: false,
        timeoutMs: 20_000,
      });
      await rh.waitForLog(
        /INTERNAL_ADDRESS_FAILURE for fqdn:rw3\.example\.com: address pool 10\.3\.0\.2\/31 \(2 of 2 addresses in use\) of realm lab is exhausted/,
      );
      await waitForLogText(rw3, /received INTERNAL_ADDRESS_FAILURE notify/, 10_000);
      assertEquals(
        (await rw3.listSas()).flatMap((sa) => sa.childSas).filter((c) => c.state === "INSTALLED")
          .length,
        0,
        "rw3 has no child SA",
      );
      await rw3.swanctl(["--terminate", "--ike", rw3.connectionName, "--timeout", "10"], {
        check: false,
        timeoutMs: 15_000,
      });
      await rh.waitForLog(/IKE_SA \S+ with fqdn:rw3\.example\.com deleted/);

      // 5. rw1 leaves again; now its address is the only free one and rw3 gets it.
      await rw1.terminate();
      await waitForCount(rh, released("10.3.0.2", "rw1"), 2);
      const third = await connect(rw3);
      assertEquals(third.vip, "10.3.0.2", "a different identity gets the address after release");
      await checkTunnel("rw3", third.ike, third.vip);
      await rh.waitForLog(/assigning virtual IP 10\.3\.0\.2 to fqdn:rw3\.example\.com/);
      console.log(
        `road warriors: rw1 ${first.vip} → released → rw2 ${second.vip}, rw1 again ${again.vip}, ` +
          `rw3 refused, then rw3 ${third.vip}`,
      );

      const status = await rh.stop();
      assertEquals(status?.code, 0);
      artifacts.passed();
    }, { timeoutMs: 170_000 }),
});

Deno.test({
  name:
    "our client gets an address from a strongSwan pool, installs it on its TUN and pings from it",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const SWAN_OUTER = "203.0.113.2";
      const SWAN_INNER = "10.1.0.1";
      const psk = randomPsk();
      await lab.addNamespace("rh");
      await lab.addNamespace("swan");
      await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`);
      const swan = new StrongSwanPeer(lab, {
        namespace: "swan",
        localAddress: SWAN_OUTER,
        remoteAddress: "%any",
        localId: "strongswan.example.com",
        remoteId: "client.example.com",
        psk,
        localTs: OUR_LAN,
        remoteTs: "dynamic",
        innerAddress: SWAN_INNER,
        pool: { addrs: "10.4.0.0/24", attributes: { dns: DNS, "25": DOMAIN } },
      });
      const rh = new RockhopperNode(lab, {
        namespace: "rh",
        listenAddress: OUR_OUTER,
        tunnelInterface: "rhp0",
        tunnelAddress: "10.9.0.1/24",
        dpd: "0",
        trafficRemote: [OUR_LAN],
        requestAddress: "ipv4",
        myId: "fqdn:client.example.com",
        peers: [{
          id: "fqdn:strongswan.example.com",
          address: SWAN_OUTER,
          auto: "start",
          psk,
        }],
      });
      const artifacts = new FailureArtifacts(lab, "config-payload-client");
      artifacts.add("rockhopper", rh);
      artifacts.add("charon", swan);
      await swan.start();
      await swan.loadConfig();
      await rh.start();

      const ours = await rh.waitForChildSa();
      const ike = await swan.waitEstablished();
      assertEquals(ike.remoteVips, ["10.4.0.1"], "charon lent the first pool address");
      assertEquals(ike.childSas[0]?.remoteTs, ["10.4.0.1/32"]);
      assertEquals([ours.localTs, ours.remoteTs], ["10.4.0.1", OUR_LAN]);
      const log = await rh.logText();
      assert(/received virtual IP 10\.4\.0\.1 from fqdn:strongswan\.example\.com/.test(log));
      assert(log.includes(`received DNS ${DNS}, domain ${DOMAIN}`), "we log DNS and domain");
      const reply = /CFG_REPLY from fqdn:strongswan\.example\.com: (.*)$/m.exec(log)?.[1] ?? "";
      for (const name of ["INTERNAL_IP4_ADDRESS", "INTERNAL_IP4_DNS", "INTERNAL_DNS_DOMAIN"]) {
        assert(reply.split(" ").includes(name), `charon's CFG_REPLY carries ${name}: ${reply}`);
      }
      assert(/added virtual IP 10\.4\.0\.1\/32 to rhp0/.test(log));
      assert((await addressesOn(lab, "rh", "rhp0")).includes("10.4.0.1/32"));
      const leases = await swan.listPoolLeases();
      assertEquals(
        leases.map((l) => [l.address, l.identity, l.online]),
        [["10.4.0.1", "client.example.com", true]],
      );
      const route = await routeTo(lab, "rh", SWAN_INNER);
      assertEquals([route.dev, route.prefsrc], ["rhp0", "10.4.0.1"]);
      assertEquals(await lab.ping("rh", SWAN_INNER, { from: "10.4.0.1", count: 3 }), 3);
      const [after] = await swan.listSas();
      assert((after?.childSas[0]?.packetsIn ?? 0) >= 3, "the pings went through charon's SA");

      console.log(
        `client: charon remote-vips ${ike.remoteVips.join(" ")}, child ${
          ike.childSas[0]?.remoteTs.join(" ")
        } === ${ike.childSas[0]?.localTs.join(" ")}, lease ${
          leases.map((l) => `${l.address} ${l.identity} ${l.online ? "online" : "offline"}`)
        }, our route to ${SWAN_INNER} dev ${route.dev} src ${route.prefsrc}, 3/3 pings`,
      );
      // charon ends the SA: the address leaves our TUN and charon's lease goes offline.
      await swan.terminate();
      await rh.waitForLog(/removed virtual IP 10\.4\.0\.1\/32 from rhp0/);
      assert(!(await addressesOn(lab, "rh", "rhp0")).includes("10.4.0.1/32"));
      assertEquals((await swan.listPoolLeases()).map((l) => l.online), [false]);

      const status = await rh.stop();
      assertEquals(status?.code, 0);
      artifacts.passed();
    }, { timeoutMs: 120_000 }),
});
