import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { ConfigError, parseConfig } from "../../lib/config/mod.ts";
import { realmPolicies } from "../../lib/ike/realm_policy.ts";

const FILE = "conf/rockhopper.xml";

function realmWith(body: string, tunnel = "10.1.0.1/24"): string {
  return `<rockhopper version="1">
  <realm id="1" name="gw">
    <tunnel_interface name="rhp1" address="${tunnel}"/>
${body}
  </realm>
</rockhopper>`;
}

function problem(text: string): string {
  return (assertThrows(() => parseConfig(text, FILE), ConfigError) as ConfigError).message;
}

Deno.test("<pool> reads prefixes, DNS servers, domains and subnets in canonical form", () => {
  const config = parseConfig(
    realmWith(
      `    <pool address="10.3.0.0/24 FD00:3::/112" dns="10.1.0.53 fd00:1::35" domain="Corp.Example.com. lab.example.net" subnets="10.1.0.0/24"/>`,
    ),
    FILE,
  );
  assertEquals(config.realms[0]!.pool, {
    address: ["10.3.0.0/24", "fd00:3::/112"],
    dns: ["10.1.0.53", "fd00:1::35"],
    domains: ["corp.example.com", "lab.example.net"],
    subnets: ["10.1.0.0/24"],
  });
  assertEquals(config.realms[0]!.requestAddress, undefined);
});

Deno.test("<pool> becomes the realm policy's address pool, never lending our tunnel address", () => {
  const config = parseConfig(realmWith(`    <pool address="10.1.0.0/24"/>`), FILE);
  const auth = {
    file: "auth.xml",
    realms: [{
      id: 1,
      myAuth: { method: "psk" as const, id: "fqdn:gw" },
      peers: [],
      cas: [],
      crls: [],
    }],
  };
  const [policy] = realmPolicies(config, auth);
  assertEquals(policy!.addressPool, {
    prefixes: ["10.1.0.0/24"],
    exclude: ["10.1.0.1"],
    dns: [],
    domains: [],
    subnets: [],
  });
  assertEquals(policy!.requestAddress, undefined);
});

Deno.test("<request_address> asks for IPv4 by default, or IPv6, or both", () => {
  const family = (xml: string) => parseConfig(realmWith(xml), FILE).realms[0]!.requestAddress;
  assertEquals(family(`    <request_address/>`), { family: "ipv4" });
  assertEquals(family(`    <request_address family="ipv6"/>`), { family: "ipv6" });
  assertEquals(family(`    <request_address family="both"/>`), { family: "both" });
  assert(
    /"ipv5" is not one of ipv4, ipv6, both/.test(
      problem(realmWith(`    <request_address family="ipv5"/>`)),
    ),
  );
});

Deno.test("<pool> rejects what cannot work, naming line and attribute", () => {
  for (
    const [body, expected] of [
      [`<pool/>`, /<pool>: missing required attribute "address"/],
      [
        `<pool address="10.3.0.1/24"/>`,
        /<pool address>: bad prefix "10.3.0.1\/24": host bits are set \(did you mean 10.3.0.0\/24\?\)/,
      ],
      [
        `<pool address="10.3.0.0/24 10.4.0.0/24"/>`,
        /a pool takes one IPv4 prefix \(10.4.0.0\/24 is a second\)/,
      ],
      [`<pool address="10.0.0.0/7"/>`, /an IPv4 pool needs a prefix length of 8-32/],
      [`<pool address="fd00::/48"/>`, /an IPv6 pool needs a prefix length of 64-128/],
      [`<pool address="10.1.0.1/32"/>`, /holds only this realm's own tunnel address/],
      [
        `<pool address="10.3.0.0/24" dns="ns.example.com"/>`,
        /<pool dns>: "ns.example.com" is not an IPv4 or IPv6 address/,
      ],
      [
        `<pool address="10.3.0.0/24" domain="bad_name"/>`,
        /<pool domain>: "bad_name" is not a DNS domain name/,
      ],
      [`<pool address="10.3.0.0/24" subnets="10.1.0.0/33"/>`, /<pool subnets>: bad prefix/],
      [`<pool address="10.3.0.0/24" range="x"/>`, /<pool range>: unknown attribute/],
      [
        `<pool address="10.3.0.0/24"/><request_address/>`,
        /either lends inner addresses \(<pool>\) or asks for one \(<request_address>\), not both/,
      ],
      [
        `<pool address="10.3.0.0/24"/><pool address="10.4.0.0/24"/>`,
        /<realm> takes at most one <pool>/,
      ],
    ] as const
  ) {
    const message = problem(realmWith(`    ${body}`));
    assert(expected.test(message), `${body}: ${message}`);
    assert(message.startsWith(`${FILE}:`), message);
  }
});

Deno.test("pools of different realms must not overlap each other or another realm's tunnel", () => {
  const two = (poolA: string, poolB: string) =>
    `<rockhopper version="1">
  <realm id="1" name="a">
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
    <pool address="${poolA}"/>
  </realm>
  <realm id="2" name="b">
    <tunnel_interface name="rhp2" address="10.2.0.1/24"/>
    <pool address="${poolB}"/>
  </realm>
</rockhopper>`;
  assert(
    /:8: <pool address>: pool 10.3.0.128\/25 overlaps pool 10.3.0.0\/24 of realm 1/.test(
      problem(two("10.3.0.0/24", "10.3.0.128/25")),
    ),
  );
  assert(
    /:4: <pool address>: pool 10.2.0.0\/25 overlaps the tunnel network 10.2.0.0\/24 of realm 2/
      .test(problem(two("10.2.0.0/25", "10.4.0.0/24"))),
  );
  assertEquals(parseConfig(two("10.3.0.0/24", "10.4.0.0/24"), FILE).realms.length, 2);
});
