/** What each realm may change through the secure process, derived from rockhopper.xml. */
import { assertEquals, assertThrows } from "../_assert.ts";
import { parseConfig } from "../../lib/config/mod.ts";
import {
  MemorySysService,
  PolicedSysService,
  prefixContains,
  SysPolicy,
  SysRefusedError,
} from "../../lib/sys_control/mod.ts";
import { parsePrefix } from "../../lib/config/mod.ts";

const CONFIG = parseConfig(
  `<rockhopper version="1">
  <realm id="1" name="branch">
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
    <traffic local="10.1.0.0/24" remote="10.2.0.0/24 fd00:2::/64"/>
    <peer id="fqdn:gw2.example.com" address="198.51.100.2"/>
  </realm>
  <realm id="2" name="roadwarrior">
    <tunnel_interface name="rhp2" address="10.3.0.1/24"/>
    <traffic local="10.3.0.0/24" remote="0.0.0.0/0"/>
    <request_address family="ipv4"/>
    <peer id="fqdn:vpn.example.com" address="198.51.100.3"/>
  </realm>
  <realm id="4" name="gateway">
    <tunnel_interface name="rhp4" address="10.5.0.1/24"/>
    <traffic local="192.168.0.0/16" remote="10.5.0.0/24"/>
    <pool address="100.64.0.0/24"/>
  </realm>
  <realm id="3" name="off" enabled="no">
    <tunnel_interface name="rhp3" address="10.4.0.1/24"/>
  </realm>
</rockhopper>`,
  "/x/rockhopper.xml",
);
const policy = SysPolicy.fromConfig(CONFIG);
const p = (text: string) => parsePrefix(text) as Exclude<ReturnType<typeof parsePrefix>, string>;

Deno.test("prefixContains compares the leading bits of the shorter prefix", () => {
  assertEquals(prefixContains(p("10.2.0.0/24"), p("10.2.0.128/25")), true);
  assertEquals(prefixContains(p("10.2.0.0/24"), p("10.2.0.0/24")), true);
  assertEquals(prefixContains(p("10.2.0.0/24"), p("10.2.0.0/23")), false);
  assertEquals(prefixContains(p("10.2.0.0/24"), p("10.2.1.0/24")), false);
  assertEquals(prefixContains(p("10.1.0.1/20"), p("10.1.15.0/24")), true, "host bits ignored");
  assertEquals(prefixContains(p("0.0.0.0/0"), p("203.0.113.0/24")), true);
  assertEquals(prefixContains(p("fd00:2::/64"), p("fd00:2::5/128")), true);
  assertEquals(prefixContains(p("fd00:2::/64"), p("10.2.0.0/24")), false, "families differ");
});

Deno.test("only enabled realms' tunnel devices may be changed", () => {
  policy.checkMtu("rhp1", 1400);
  policy.realmOfDevice("x", "rhp2");
  assertThrows(
    () => policy.checkMtu("eth0", 1400),
    SysRefusedError,
    '"eth0" is not the tunnel device of a realm (rhp1, rhp2, rhp4)',
  );
  assertThrows(() => policy.checkMtu("rhp3", 1400), SysRefusedError, "not the tunnel device");
  assertThrows(() => policy.checkMtu("rhp1", 67), SysRefusedError, "not within 68-65535");
});

Deno.test("routes must lie inside the realm's remote selectors, tunnel network or pool", () => {
  policy.checkRoute("add", "10.2.0.0/24", { device: "rhp1", src: "10.1.0.1" });
  policy.checkRoute("add", "10.1.0.0/24", { device: "rhp1" });
  policy.checkRoute("add", "fd00:2::/80", { device: "rhp1" });
  policy.checkRoute("delete", "10.2.0.0/25", { device: "rhp1" });
  assertThrows(
    () => policy.checkRoute("add", "0.0.0.0/0", { device: "rhp1" }),
    SysRefusedError,
    "outside the networks of realm 1 (branch): 10.1.0.1/24 10.2.0.0/24 fd00:2::/64",
  );
  assertThrows(() => policy.checkRoute("add", "10.2.0.0/24", { device: "rhp2x" }), SysRefusedError);
  // Realm 2 routes everything into its tunnel: allowed by its own configuration only.
  policy.checkRoute("add", "0.0.0.0/0", { device: "rhp2" });
  assertThrows(() => policy.checkRoute("add", "::/0", { device: "rhp2" }), SysRefusedError);
  // A responder routes each road warrior's pool address into its tunnel.
  policy.checkRoute("add", "100.64.0.7/32", { device: "rhp4", src: "10.5.0.1" });
  assertThrows(
    () => policy.checkRoute("add", "100.64.1.7/32", { device: "rhp4" }),
    SysRefusedError,
  );
});

Deno.test("route sources are our tunnel address or, with request_address, an assigned one", () => {
  assertThrows(
    () => policy.checkRoute("add", "10.2.0.0/24", { device: "rhp1", src: "10.1.0.9" }),
    SysRefusedError,
    "neither the realm's tunnel address nor an assigned one",
  );
  policy.checkRoute("add", "192.168.0.0/16", { device: "rhp2", src: "100.64.7.9" });
  assertThrows(
    () => policy.checkRoute("add", "192.168.0.0/16", { device: "rhp2", src: "127.0.0.1" }),
    SysRefusedError,
  );
});

Deno.test("addresses: the tunnel address, plus assigned unicast ones with request_address", () => {
  policy.checkAddress("add", "rhp1", "10.1.0.1/24");
  assertThrows(
    () => policy.checkAddress("add", "rhp1", "10.1.0.1/16"),
    SysRefusedError,
    "has only 10.1.0.1/24",
  );
  assertThrows(
    () => policy.checkAddress("add", "rhp1", "10.1.0.2/32"),
    SysRefusedError,
    "no <request_address>",
  );
  policy.checkAddress("add", "rhp2", "100.64.7.9/32");
  policy.checkAddress("delete", "rhp2", "100.64.7.9/32");
  for (const bad of ["224.0.0.1/32", "127.0.0.2/32", "0.0.0.0/32"]) {
    assertThrows(() => policy.checkAddress("add", "rhp2", bad), SysRefusedError, "not a unicast");
  }
  assertThrows(() => policy.checkAddress("add", "rhp2", "fd00::9/128"), SysRefusedError, "IPv6");
});

Deno.test("PolicedSysService passes allowed changes on and stops the others", async () => {
  const inner = new MemorySysService();
  const sys = new PolicedSysService(inner, policy);
  await sys.setMtu("rhp1", 1400);
  await sys.disableAddressGeneration("rhp1");
  await sys.linkUp("rhp1");
  await sys.addRoute("10.2.0.0/24", { device: "rhp1", replace: true });
  await sys.delRoute("10.2.0.0/24", { device: "rhp1" });
  let refused = 0;
  for (
    const change of [
      () => sys.linkUp("lo"),
      () => sys.addAddress("rhp1", "198.51.100.7/24"),
      () => sys.delAddress("eth0", "198.51.100.1/24"),
      () => sys.addRoute("198.51.100.0/24", { device: "rhp1" }),
      () => sys.delRoute("0.0.0.0/0", { device: "eth0" }),
    ]
  ) {
    await change().catch((e) => {
      if (e instanceof SysRefusedError) refused++;
    });
  }
  assertEquals(refused, 5);
  assertEquals(inner.calls.map((c) => c.op), [
    "setMtu",
    "disableAddressGeneration",
    "linkUp",
    "addRoute",
    "delRoute",
  ]);
});
