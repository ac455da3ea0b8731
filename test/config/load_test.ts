import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import {
  checkAuthAgainstConfig,
  ConfigError,
  loadConfig,
  parseAuthConfig,
  parseConfig,
  type RockhopperConfig,
} from "../../lib/config/mod.ts";
import { DEFAULT_ESP_SUITES, DEFAULT_IKE_SUITES, IKE_SUITES } from "../../lib/ike/suites.ts";
import { type LogRecord, setLogSinks } from "../../lib/log/mod.ts";

const FILE = "conf/rockhopper.xml";
const AUTH_FILE = "conf/auth.xml";
const GOOD_KEY = "a-long-enough-example-key-0123456789";

/** A rockhopper.xml with one realm whose body is `realmBody`. */
function oneRealm(realmBody: string, realmAttributes = 'id="1" name="branch"'): string {
  return `<rockhopper version="1">
  <realm ${realmAttributes}>
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
${realmBody}
  </realm>
</rockhopper>`;
}

function configError(text: string, file = FILE): ConfigError {
  return assertThrows(() => parseConfig(text, file), ConfigError) as ConfigError;
}

function authError(text: string): ConfigError {
  return assertThrows(() => parseAuthConfig(text, AUTH_FILE), ConfigError) as ConfigError;
}

function authWith(realmBody: string): string {
  return `<rockhopper_auth version="1">
  <realm id="1">
${realmBody}
  </realm>
</rockhopper_auth>`;
}

const FULL_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<!-- every element, every attribute -->
<rockhopper version="1">
  <interfaces>
    <interface name="eth0" address="198.51.100.1" priority="10"/>
    <interface name="eth1" address="2001:DB8:0:0::1" priority="20"/>
  </interfaces>
  <admin address="127.0.0.1" port="32502" allow="127.0.0.0/8 10.0.0.0/8"/>
  <ike cookie_threshold="20" init_rate_limit="50" cookie_rate_limit="2000" half_open_limit="500"
       nat_keepalive="30s"/>
  <realm id="1" name="branch" mode="l3" enabled="yes">
    <tunnel_interface name="rhp1" address="10.1.0.1/24" mtu="auto"/>
    <ike suites="aes128gcm16-prfsha256-ecp256 aes256-sha256-modp2048" dpd="15s"
         dpd_action="restart" rekey="2h" retransmit_timeout="2s" retransmit_tries="3"
         nat_t="force" fragmentation="no" fragment_size="576" mobike="yes"/>
    <esp suites="aes128gcm16 aes256-sha256" rekey="30m" replay_window="2048" pfs="no"/>
    <traffic local="10.1.0.0/24 2001:db8:1::/48" remote="10.2.0.0/24 203.0.113.7"/>
    <peer id="fqdn:GW2.example.com" address="198.51.100.2" port="4500" auto="start"/>
    <peer id="email:alice@Example.COM"/>
  </realm>
  <realm id="7" name="lab" mode="l2" enabled="no">
    <tunnel_interface name="rhp7" address="10.7.0.1/24" mtu="1400"/>
  </realm>
</rockhopper>`;

Deno.test("parses a full example to the expected values", () => {
  const config = parseConfig(FULL_EXAMPLE, FILE);
  const expected: RockhopperConfig = {
    file: FILE,
    interfaces: [
      { name: "eth0", address: "198.51.100.1", priority: 10 },
      { name: "eth1", address: "2001:db8::1", priority: 20 },
    ],
    admin: {
      enabled: true,
      address: "127.0.0.1",
      port: 32502,
      allow: ["127.0.0.0/8", "10.0.0.0/8"],
      readTimeout: 30,
    },
    ike: {
      cookieThreshold: 20,
      initRateLimit: 50,
      cookieRateLimit: 2000,
      halfOpenLimit: 500,
      natKeepalive: 30,
    },
    dataPlane: { workers: 2, offload: true },
    realms: [
      {
        id: 1,
        name: "branch",
        mode: "l3",
        enabled: true,
        tunnelInterface: { name: "rhp1", address: "10.1.0.1/24", mtu: "auto" },
        ike: {
          suites: ["aes128gcm16-prfsha256-ecp256", "aes256-sha256-modp2048"],
          dpd: 15,
          dpdAction: "restart",
          rekey: 7200,
          retransmitTimeout: 2,
          retransmitTries: 3,
          natT: "force",
          fragmentation: false,
          fragmentSize: 576,
          mobike: true,
        },
        esp: {
          suites: ["aes128gcm16", "aes256-sha256"],
          rekey: 1800,
          replayWindow: 2048,
          pfs: false,
        },
        traffic: {
          local: ["10.1.0.0/24", "2001:db8:1::/48"],
          remote: ["10.2.0.0/24", "203.0.113.7/32"],
        },
        peers: [
          { id: "fqdn:gw2.example.com", address: "198.51.100.2", port: 4500, auto: "start" },
          { id: "email:alice@example.com", port: 500, auto: "add" },
        ],
      },
      {
        id: 7,
        name: "lab",
        mode: "l2",
        enabled: false,
        tunnelInterface: { name: "rhp7", address: "10.7.0.1/24", mtu: 1400 },
        ike: {
          suites: DEFAULT_IKE_SUITES,
          dpd: 30,
          dpdAction: "clear",
          rekey: 4 * 3600,
          retransmitTimeout: 1,
          retransmitTries: 5,
          natT: "auto",
          fragmentation: true,
          fragmentSize: 1280,
          mobike: false,
        },
        esp: { suites: DEFAULT_ESP_SUITES, rekey: 3600, replayWindow: 1024, pfs: true },
        traffic: { local: ["10.7.0.0/24"], remote: ["10.7.0.0/24"] },
        peers: [],
      },
    ],
  };
  assertEquals(config, expected);
});

Deno.test("fills documented defaults for a minimal realm", () => {
  const config = parseConfig(oneRealm(""), FILE);
  assertEquals(config.interfaces, [{ name: "any", address: "0.0.0.0", priority: 10 }]);
  assertEquals(config.admin, {
    enabled: true,
    address: "127.0.0.1",
    port: 32501,
    allow: ["127.0.0.0/8"],
    readTimeout: 30,
  });
  const realm = config.realms[0]!;
  assertEquals(realm.mode, "l3");
  assertEquals(realm.enabled, true);
  assertEquals(realm.ike.suites, DEFAULT_IKE_SUITES);
  assertEquals(realm.ike.dpd, 30);
  assertEquals(realm.ike.rekey, 14400);
  assertEquals(realm.ike.natT, "auto");
  assertEquals(realm.ike.fragmentation, true);
  assertEquals(realm.ike.fragmentSize, 1280);
  assertEquals(realm.ike.mobike, false);
  assertEquals(realm.esp, {
    suites: DEFAULT_ESP_SUITES,
    rekey: 3600,
    replayWindow: 1024,
    pfs: true,
  });
  assertEquals(realm.traffic, { local: ["10.1.0.0/24"], remote: ["10.1.0.0/24"] });
  assertEquals(config.ike, {
    cookieThreshold: 10,
    initRateLimit: 100,
    cookieRateLimit: 5000,
    halfOpenLimit: 1000,
    natKeepalive: 20,
  });
});

/** A rockhopper.xml with the root `<ike>` written as `ike` (line 2) and one realm. */
function withGlobalIke(ike: string): string {
  return `<rockhopper version="1">
  ${ike}
  <realm id="1" name="branch">
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
  </realm>
</rockhopper>`;
}

Deno.test("reads the root <ike>: cookie threshold 0, keepalives off, partial attributes", () => {
  let ike = parseConfig(withGlobalIke(`<ike cookie_threshold="0" nat_keepalive="0"/>`), FILE).ike;
  assertEquals(ike, {
    cookieThreshold: 0,
    initRateLimit: 100,
    cookieRateLimit: 5000,
    halfOpenLimit: 1000,
    natKeepalive: 0,
  });
  ike = parseConfig(withGlobalIke(`<ike init_rate_limit="1" nat_keepalive="5m"/>`), FILE).ike;
  assertEquals([ike?.initRateLimit, ike?.natKeepalive], [1, 300]);
});

Deno.test("rejects bad values in the root <ike> with file, line, element and attribute", () => {
  const cases: [string, string][] = [
    [
      `<ike cookie_threshold="-1"/>`,
      'conf/rockhopper.xml:2: <ike cookie_threshold>: "-1" is not a whole number',
    ],
    [
      `<ike init_rate_limit="0"/>`,
      "conf/rockhopper.xml:2: <ike init_rate_limit>: 0 is out of range 1-1000000",
    ],
    [
      `<ike init_rate_limit="100/s"/>`,
      'conf/rockhopper.xml:2: <ike init_rate_limit>: "100/s" is not a whole number',
    ],
    [
      `<ike cookie_rate_limit="2000000"/>`,
      "conf/rockhopper.xml:2: <ike cookie_rate_limit>: 2000000 is out of range 1-1000000",
    ],
    [
      `<ike half_open_limit="10"/>`,
      "conf/rockhopper.xml:2: <ike half_open_limit>: half_open_limit 10 must be above cookie_threshold 10, or COOKIEs are never asked for before requests are dropped",
    ],
    [
      `<ike cookie_threshold="1000"/>`,
      "conf/rockhopper.xml:2: <ike cookie_threshold>: half_open_limit 1000 must be above cookie_threshold 1000, or COOKIEs are never asked for before requests are dropped",
    ],
    [
      `<ike nat_keepalive="10 minutes"/>`,
      'conf/rockhopper.xml:2: <ike nat_keepalive>: cannot parse duration "10 minutes" (write a number with an optional unit s, m, h or d: "30s", "5m", "4h", "1d")',
    ],
    [
      `<ike nat_keepalive="20m"/>`,
      "conf/rockhopper.xml:2: <ike nat_keepalive>: 1200s is outside 1s-300s (NAT mappings expire after 30-180 s); 0 turns keepalives off",
    ],
    [
      `<ike suites="aes256gcm16-prfsha384-x25519"/>`,
      "conf/rockhopper.xml:2: <ike suites>: unknown attribute (allowed here: cookie_threshold, init_rate_limit, cookie_rate_limit, half_open_limit, nat_keepalive)",
    ],
    [
      `<ike/><ike/>`,
      "conf/rockhopper.xml:2: <ike>: duplicate element: <rockhopper> takes at most one <ike>",
    ],
  ];
  for (const [ike, message] of cases) {
    assertEquals(configError(withGlobalIke(ike)).message, message);
  }
});

Deno.test("reports malformed XML with file and line", () => {
  const e = configError(`<rockhopper version="1">
  <realm id="1" name="x">
    <tunnel_interface name="rhp1" address="10.1.0.1/24">
  </realm>
</rockhopper>`);
  assertEquals(e.file, FILE);
  assertEquals(e.line, 4);
  assertEquals(e.message, "conf/rockhopper.xml:4: malformed XML: unexpected close tag");
});

Deno.test("reports an unclosed document at its end", () => {
  const e = configError(`<rockhopper version="1">\n  <realm id="1" name="x">\n`);
  assert(e.message.startsWith("conf/rockhopper.xml:3: malformed XML:"), e.message);
});

Deno.test("rejects a DOCTYPE (no entity expansion)", () => {
  const e = configError(`<!DOCTYPE rockhopper [<!ENTITY x "y">]>\n<rockhopper version="1"/>`);
  assert(e.message.includes("DOCTYPE"), e.message);
});

Deno.test("rejects an unknown element naming it, its parent and its line", () => {
  const e = configError(oneRealm(`    <tunnel_interfce name="rhp2"/>`));
  assertEquals(e.line, 4);
  assertEquals(e.element, "tunnel_interfce");
  assertEquals(
    e.message,
    "conf/rockhopper.xml:4: <tunnel_interfce>: unknown element inside <realm> " +
      "(allowed here: <tunnel_interface>, <ike>, <esp>, <traffic>, <peer>, <pool>, <request_address>)",
  );
});

Deno.test("rejects an unknown attribute naming element and attribute", () => {
  const e = configError(
    oneRealm(`    <ike suites="aes256gcm16-prfsha384-x25519"\n         dpd_delay="30s"/>`),
  );
  assertEquals(e.line, 5);
  assertEquals(e.element, "ike");
  assertEquals(e.attribute, "dpd_delay");
  assert(
    e.message.startsWith("conf/rockhopper.xml:5: <ike dpd_delay>: unknown attribute"),
    e.message,
  );
});

Deno.test("rejects text content inside elements", () => {
  const e = configError(oneRealm(`    <ike>aes256gcm16</ike>`));
  assert(e.message.includes("<ike>: unexpected text content"), e.message);
});

Deno.test("rejects a missing required attribute", () => {
  const e = configError(oneRealm("", 'id="1"'));
  assertEquals(e.message, 'conf/rockhopper.xml:2: <realm>: missing required attribute "name"');
});

Deno.test("rejects a missing required element", () => {
  const e = configError(`<rockhopper version="1">\n  <realm id="1" name="x"/>\n</rockhopper>`);
  assertEquals(
    e.message,
    "conf/rockhopper.xml:2: <realm>: missing required element <tunnel_interface>",
  );
});

Deno.test("rejects an empty attribute value", () => {
  const e = configError(oneRealm(`    <esp suites=""/>`));
  assertEquals(e.message, "conf/rockhopper.xml:4: <esp suites>: empty value");
});

Deno.test("rejects a configuration without realms", () => {
  const e = configError(`<rockhopper version="1"/>`);
  assert(e.message.includes("no <realm>"), e.message);
});

Deno.test("rejects bad CIDRs in traffic, admin allow and tunnel address", () => {
  let e = configError(oneRealm(`    <traffic local="10.1.0.0/24" remote="10.2.0.1/24"/>`));
  assertEquals(
    e.message,
    'conf/rockhopper.xml:4: <traffic remote>: bad prefix "10.2.0.1/24": host bits are set (did you mean 10.2.0.0/24?)',
  );
  e = configError(oneRealm(`    <traffic local="10.1.0.0/33"/>`));
  assert(e.message.includes("prefix length 33 is out of range 0-32"), e.message);
  e = configError(oneRealm(`    <traffic local="10.1.0/24"/>`));
  assert(e.message.includes('"10.1.0" is not an IPv4 or IPv6 address'), e.message);
  e = configError(oneRealm(`    <traffic local="2001:db8::1/64"/>`));
  assert(e.message.includes("did you mean 2001:db8::/64?"), e.message);
  e = configError(oneRealm(`    <traffic local="10.1.0.0/24 10.1.0.0/24"/>`));
  assert(e.message.includes("listed twice"), e.message);
  e = configError(`<rockhopper version="1"><admin allow="127.0.0.1/8"/></rockhopper>`);
  assert(e.message.includes("<admin allow>: bad prefix"), e.message);
  e = configError(oneRealm("").replace("10.1.0.1/24", "10.1.0.0/24"));
  assert(e.message.includes("<tunnel_interface address>") && e.message.includes("network address"));
  e = configError(oneRealm("").replace("10.1.0.1/24", "10.1.0.255/24"));
  assert(e.message.includes("broadcast"), e.message);
  e = configError(oneRealm("").replace("10.1.0.1/24", "10.1.0.1"));
  assert(e.message.includes("needs a prefix length"), e.message);
});

Deno.test("accepts host addresses in /31 and /32 tunnel prefixes", () => {
  const config = parseConfig(oneRealm("").replace("10.1.0.1/24", "10.1.0.0/31"), FILE);
  assertEquals(config.realms[0]!.tunnelInterface.address, "10.1.0.0/31");
});

Deno.test("rejects an unknown IKE suite listing the known ones", () => {
  const e = configError(oneRealm(`    <ike suites="aes128-sha1-modp1024"/>`));
  const known = [...IKE_SUITES.keys()].join(", ");
  assertEquals(
    e.message,
    `conf/rockhopper.xml:4: <ike suites>: unknown IKE suite "aes128-sha1-modp1024" (known: ${known})`,
  );
});

Deno.test("rejects an unknown or repeated ESP suite", () => {
  let e = configError(oneRealm(`    <esp suites="aes256gcm16 3des-md5"/>`));
  assert(e.message.includes('<esp suites>: unknown ESP suite "3des-md5"'), e.message);
  e = configError(oneRealm(`    <esp suites="aes256gcm16 aes256gcm16"/>`));
  assert(e.message.includes("listed twice"), e.message);
});

Deno.test("rejects duplicate realm ids, names and tunnel interfaces", () => {
  const two = (second: string) =>
    `<rockhopper version="1">
  <realm id="1" name="a"><tunnel_interface name="rhp1" address="10.1.0.1/24"/></realm>
  ${second}
</rockhopper>`;
  let e = configError(
    two(`<realm id="1" name="b"><tunnel_interface name="rhp2" address="10.2.0.1/24"/></realm>`),
  );
  assertEquals(
    e.message,
    "conf/rockhopper.xml:3: <realm id>: duplicate realm id 1 (first on line 2)",
  );
  e = configError(
    two(`<realm id="2" name="a"><tunnel_interface name="rhp2" address="10.2.0.1/24"/></realm>`),
  );
  assertEquals(
    e.message,
    'conf/rockhopper.xml:3: <realm name>: duplicate realm name "a" (first on line 2)',
  );
  e = configError(
    two(`<realm id="2" name="b"><tunnel_interface name="rhp1" address="10.2.0.1/24"/></realm>`),
  );
  assert(
    e.message.startsWith('conf/rockhopper.xml:3: <tunnel_interface name>: tunnel interface "rhp1"'),
    e.message,
  );
  e = configError(
    two(`<realm id="2" name="b"><tunnel_interface name="rhp2" address="10.1.0.9/16"/></realm>`),
  );
  assert(e.message.includes("overlaps realm 1's 10.1.0.0/24"), e.message);
});

Deno.test("rejects a peer listed twice or in two realms", () => {
  let e = configError(
    oneRealm(`    <peer id="fqdn:gw2.example.com"/>\n    <peer id="FQDN:gw2.EXAMPLE.com"/>`),
  );
  assertEquals(e.line, 5);
  assert(
    e.message.includes("peer fqdn:gw2.example.com is listed twice (first on line 4)"),
    e.message,
  );
  e = configError(`<rockhopper version="1">
  <realm id="1" name="a"><tunnel_interface name="rhp1" address="10.1.0.1/24"/><peer id="ipv4:198.51.100.2"/></realm>
  <realm id="2" name="b"><tunnel_interface name="rhp2" address="10.2.0.1/24"/><peer id="ipv4:198.51.100.2"/></realm>
</rockhopper>`);
  assertEquals(e.line, 3);
  assert(e.message.includes("is also in realm 1"), e.message);
});

Deno.test("rejects bad durations and too short rekey intervals", () => {
  let e = configError(oneRealm(`    <ike dpd="30 seconds"/>`));
  assert(
    e.message.startsWith('conf/rockhopper.xml:4: <ike dpd>: cannot parse duration "30 seconds"'),
    e.message,
  );
  e = configError(oneRealm(`    <ike rekey="-1h"/>`));
  assert(e.message.includes("<ike rekey>: cannot parse duration"), e.message);
  e = configError(oneRealm(`    <esp rekey="400d"/>`));
  assert(e.message.includes("longer than the maximum of 365d"), e.message);
  e = configError(oneRealm(`    <esp rekey="5s"/>`));
  assert(e.message.includes("<esp rekey>: rekey interval 5s is too short"), e.message);
  e = configError(oneRealm(`    <ike retransmit_timeout="0"/>`));
  assert(e.message.includes("<ike retransmit_timeout>: 0s is outside 1s..60s"), e.message);
  e = configError(oneRealm(`    <ike dpd_action="reboot"/>`));
  assert(e.message.includes("<ike dpd_action>"), e.message);
});

Deno.test("accepts every duration form", () => {
  const config = parseConfig(
    oneRealm(`    <ike dpd="0" rekey="1d"/>\n    <esp rekey="90"/>`),
    FILE,
  );
  assertEquals(config.realms[0]!.ike.dpd, 0);
  assertEquals(config.realms[0]!.ike.rekey, 86400);
  assertEquals(config.realms[0]!.esp.rekey, 90);
  const minutes = parseConfig(oneRealm(`    <ike dpd="5m"/>`), FILE);
  assertEquals(minutes.realms[0]!.ike.dpd, 300);
});

Deno.test("rejects bad choice, yes/no and integer values", () => {
  let e = configError(oneRealm(`    <ike nat_t="maybe"/>`));
  assertEquals(
    e.message,
    'conf/rockhopper.xml:4: <ike nat_t>: "maybe" is not one of auto, force, no',
  );
  e = configError(oneRealm(`    <ike mobike="true"/>`));
  assert(e.message.includes('"true" is not one of yes, no'), e.message);
  e = configError(oneRealm(`    <esp replay_window="16"/>`));
  assert(e.message.includes("<esp replay_window>: 16 is out of range 32-4096"), e.message);
  e = configError(oneRealm(`    <esp replay_window="8192"/>`));
  assert(e.message.includes("<esp replay_window>: 8192 is out of range 32-4096"), e.message);
  e = configError(oneRealm(`    <esp replay_window="100"/>`));
  assert(e.message.includes("<esp replay_window>: 100 is not a multiple of 32"), e.message);
  e = configError(oneRealm(`    <ike fragment_size="500"/>`));
  assert(e.message.includes("<ike fragment_size>: 500 is out of range 576-9000"), e.message);
  e = configError(oneRealm(`    <peer id="fqdn:a.example.com" port="5OO"/>`));
  assert(e.message.includes('<peer port>: "5OO" is not a whole number'), e.message);
  e = configError(oneRealm("", 'id="0" name="x"'));
  assert(e.message.includes("<realm id>: 0 is out of range"), e.message);
});

Deno.test("validates peers: identity, address and auto", () => {
  let e = configError(oneRealm(`    <peer id="gw2.example.com"/>`));
  assert(e.message.includes('<peer id>: identity "gw2.example.com" has no kind prefix'), e.message);
  e = configError(oneRealm(`    <peer id="user:bob"/>`));
  assert(e.message.includes('unknown identity kind "user"'), e.message);
  e = configError(oneRealm(`    <peer id="ipv4:198.51.100.256"/>`));
  assert(e.message.includes("is not an IPv4 address"), e.message);
  e = configError(oneRealm(`    <peer id="fqdn:gw2.example.com" address="gw2.example.com"/>`));
  assert(
    e.message.includes('<peer address>: "gw2.example.com" is not an IPv4 or IPv6 address'),
    e.message,
  );
  e = configError(oneRealm(`    <peer id="fqdn:gw2.example.com" auto="start"/>`));
  assert(e.message.includes('<peer auto>: auto="start" needs an address'), e.message);
  e = configError(oneRealm(`    <peer id="fqdn:gw2.example.com" address="0.0.0.0"/>`));
  assert(e.message.includes("is not a peer address"), e.message);
});

Deno.test("validates interfaces", () => {
  const withInterfaces = (body: string) =>
    oneRealm("").replace(
      '<rockhopper version="1">',
      `<rockhopper version="1">\n<interfaces>${body}</interfaces>`,
    );
  let e = configError(
    withInterfaces(`<interface address="0.0.0.0"/><interface address="198.51.100.1"/>`),
  );
  assert(e.message.includes("0.0.0.0 already covers every IPv4 address"), e.message);
  e = configError(
    withInterfaces(`<interface address="198.51.100.1"/><interface address="198.51.100.1"/>`),
  );
  assert(e.message.includes("duplicate address 198.51.100.1"), e.message);
  e = configError(withInterfaces(``));
  assert(e.message.includes("no <interface>"), e.message);
  e = configError(withInterfaces(`<interface name="this-name-is-too-long" address="::"/>`));
  assert(e.message.includes("<interface name>"), e.message);
  e = configError(withInterfaces(`<interface name="rhp1" address="198.51.100.1"/>`));
  assert(
    e.message.includes("<tunnel_interface name>") &&
      e.message.includes("is already an <interface>"),
  );
  const config = parseConfig(
    withInterfaces(`<interface address="::"/><interface address="0.0.0.0"/>`),
    FILE,
  );
  assertEquals(config.interfaces.map((i) => i.address), ["::", "0.0.0.0"]);
});

Deno.test("names a wrong root element and an unsupported version", () => {
  let e = configError(`<rockhopper_auth version="1"/>`);
  assert(e.message.includes("this is an auth file"), e.message);
  e = configError(`<rhp_config/>`);
  assert(e.message.includes("original C Rockhopper"), e.message);
  e = configError(`<rockhopper version="2"/>`);
  assertEquals(
    e.message,
    'conf/rockhopper.xml:1: <rockhopper version>: unsupported format version "2" (this program reads version 1)',
  );
  e = authError(`<rockhopper version="1"/>`);
  assert(e.message.includes("this is a main configuration"), e.message);
});

Deno.test("every error message is a single line", () => {
  const e = configError(oneRealm(`    <ike suites="aes256gcm16-prfsha384-x25519\n     nope"/>`));
  assert(!e.message.includes("\n"), e.message);
});

Deno.test("loadConfig names the file it cannot read", async () => {
  const e = await assertRejects(() => loadConfig("/nonexistent/rockhopper.xml"), ConfigError);
  assertEquals(e.message, "/nonexistent/rockhopper.xml: cannot read the file: it does not exist");
});

Deno.test("loadConfig reads a file from disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rockhopper.xml`;
    await Deno.writeTextFile(path, oneRealm(""));
    const config = await loadConfig(path);
    assertEquals(config.file, path);
    assertEquals(config.realms.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- auth.xml -------------------------------------------------------------------------------

Deno.test("parses auth.xml keys, identities and hex keys", () => {
  const auth = parseAuthConfig(
    authWith(`    <my_auth method="psk" id="FQDN:GW1.example.com" psk="${GOOD_KEY}"/>
    <peer id="fqdn:gw2.example.com" psk="${GOOD_KEY}"/>
    <peer id="ipv6:2001:DB8::2" psk_hex="0x00:01:02:03 04050607 08090a0b0c0d0e0f10111213"/>`),
    AUTH_FILE,
  );
  const realm = auth.realms[0]!;
  assertEquals(auth.file, AUTH_FILE);
  assertEquals(realm.id, 1);
  assertEquals(realm.myAuth.method, "psk");
  assertEquals(realm.myAuth.id, "fqdn:gw1.example.com");
  assertEquals(realm.myAuth.psk, GOOD_KEY);
  assertEquals(realm.myAuth.pskBytes, new TextEncoder().encode(GOOD_KEY));
  assertEquals(realm.peers[0]!.id, "fqdn:gw2.example.com");
  assertEquals(realm.peers[1]!.id, "ipv6:2001:db8::2");
  assertEquals(realm.peers[1]!.pskBytes, Uint8Array.from({ length: 20 }, (_, i) => i));
});

Deno.test("my_auth without a key has no psk (the shipped default)", () => {
  const auth = parseAuthConfig(
    authWith(`    <my_auth method="psk" id="fqdn:rockhopper.local"/>`),
    AUTH_FILE,
  );
  assertEquals(auth.realms[0]!.myAuth, { method: "psk", id: "fqdn:rockhopper.local" });
});

Deno.test("rejects a weak PSK and says why", () => {
  const e = authError(authWith(`    <my_auth method="psk" id="fqdn:a.example.com"/>
    <peer id="fqdn:b.example.com" psk="secret123"/>`));
  assertEquals(e.line, 4);
  assertEquals(e.attribute, "psk");
  assert(
    e.message.startsWith("conf/auth.xml:4: <peer psk>: weak PSK: shorter than 20 characters"),
    e.message,
  );
  assert(e.message.includes("guess a short key offline"), e.message);
  assert(e.message.includes('weak="allow"'), e.message);
  const hex = authError(
    authWith(`    <my_auth method="psk" id="fqdn:a.example.com" psk_hex="00112233"/>`),
  );
  assert(hex.message.includes("<my_auth psk_hex>: weak PSK: shorter than 20 octets"), hex.message);
});

Deno.test('accepts a weak PSK with weak="allow" and warns without the key', () => {
  const records: LogRecord[] = [];
  const previous = setLogSinks([(r) => records.push(r)]);
  try {
    const auth = parseAuthConfig(
      authWith(`    <my_auth method="psk" id="fqdn:a.example.com"/>
    <peer id="fqdn:b.example.com" psk="lab-key-9" weak="allow"/>`),
      AUTH_FILE,
    );
    assertEquals(auth.realms[0]!.peers[0]!.psk, "lab-key-9");
  } finally {
    setLogSinks(previous);
  }
  assertEquals(records.length, 1);
  assertEquals(records[0]!.level, "warn");
  assert(
    records[0]!.message.includes("conf/auth.xml:4: <peer psk>: weak PSK"),
    records[0]!.message,
  );
  assert(!records[0]!.message.includes("lab-key-9"));
});

Deno.test("never puts a PSK into an error message", () => {
  const secret = "Sup3r-s3cret-but-too-sh0rt";
  const shortSecret = "hunter2";
  const cases = [
    `<peer id="fqdn:b.example.com" psk="${shortSecret}"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}" psk_hex="00"/>`,
    `<peer id="fqdn:b.example.com" psk_hex="${secret}"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}" pks="${secret}"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}">${secret}</peer>`,
    `<peer id="fqdn:b.example.com" psk="${secret}" weak="${secret}"/>`.replace(
      `weak="${secret}"`,
      'weak="yes"',
    ),
    `<peer id="b.example.com" psk="${secret}"/>`,
    `<peer psk="${secret}"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}"/><peer id="fqdn:b.example.com" psk="${secret}"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}&amp;"/><bogus/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}&${secret};"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}<"/>`,
    `<peer id="fqdn:b.example.com" psk="${secret}`,
  ];
  for (const peer of cases) {
    const e = authError(
      authWith(`    <my_auth method="psk" id="fqdn:a.example.com"/>\n    ${peer}`),
    );
    for (const text of [secret, shortSecret, "Sup3r", "hunter"]) {
      assert(!e.message.includes(text), `leaked in: ${e.message}`);
      assert(!String(e.stack).includes(text), `leaked in stack: ${e.message}`);
    }
  }
});

Deno.test("rejects auth.xml structure errors", () => {
  let e = authError(authWith(`    <peer id="fqdn:b.example.com" psk="${GOOD_KEY}"/>`));
  assert(e.message.includes("<realm>: missing required element <my_auth>"), e.message);
  e = authError(authWith(`    <my_auth method="eap" id="fqdn:a.example.com"/>`));
  assert(
    e.message.includes(
      '<my_auth method>: unsupported method "eap" (supported: psk, cert, eap-md5, eap-mschapv2)',
    ),
    e.message,
  );
  e = authError(
    authWith(
      `    <my_auth method="psk" id="fqdn:a.example.com"/>\n    <peer id="fqdn:b.example.com"/>`,
    ),
  );
  assert(e.message.includes('missing required attribute "psk" (or "psk_hex")'), e.message);
  e = authError(authWith(`    <my_auth method="psk" id="fqdn:a.example.com" weak="allow"/>`));
  assert(e.message.includes("without a psk"), e.message);
  e = authError(`<rockhopper_auth version="1">
  <realm id="1"><my_auth method="psk" id="fqdn:a.example.com"/></realm>
  <realm id="1"><my_auth method="psk" id="fqdn:a.example.com"/></realm>
</rockhopper_auth>`);
  assertEquals(e.message, "conf/auth.xml:3: <realm id>: duplicate realm id 1 (first on line 2)");
});

// ---- cross-check ----------------------------------------------------------------------------

Deno.test("cross-check: every auth realm must exist in rockhopper.xml", () => {
  const config = parseConfig(oneRealm(""), FILE);
  const auth = parseAuthConfig(
    `<rockhopper_auth version="1">
  <realm id="1"><my_auth method="psk" id="fqdn:a.example.com" psk="${GOOD_KEY}"/></realm>
  <realm id="7"><my_auth method="psk" id="fqdn:a.example.com"/></realm>
</rockhopper_auth>`,
    AUTH_FILE,
  );
  const e = assertThrows(() => checkAuthAgainstConfig(config, auth), ConfigError);
  assertEquals(
    e.message,
    "conf/auth.xml:3: <realm id>: realm 7 is not defined in conf/rockhopper.xml",
  );
});

Deno.test("cross-check: every enabled realm needs auth, a disabled one does not", () => {
  const config = parseConfig(
    `<rockhopper version="1">
  <realm id="1" name="a"><tunnel_interface name="rhp1" address="10.1.0.1/24"/></realm>
  <realm id="2" name="b" enabled="no"><tunnel_interface name="rhp2" address="10.2.0.1/24"/></realm>
  <realm id="3" name="c"><tunnel_interface name="rhp3" address="10.3.0.1/24"/></realm>
</rockhopper>`,
    FILE,
  );
  const auth = parseAuthConfig(
    authWith(`<my_auth method="psk" id="fqdn:a.example.com" psk="${GOOD_KEY}"/>`),
    AUTH_FILE,
  );
  const e = assertThrows(() => checkAuthAgainstConfig(config, auth), ConfigError);
  assert(
    e.message.startsWith('conf/rockhopper.xml:4: <realm id>: realm 3 (c) has no <realm id="3">'),
    e.message,
  );
});

Deno.test("cross-check: a configured peer needs a key", () => {
  const config = parseConfig(
    oneRealm(`    <peer id="fqdn:b.example.com" address="198.51.100.2" auto="start"/>`),
    FILE,
  );
  const noKey = parseAuthConfig(
    authWith(`<my_auth method="psk" id="fqdn:a.example.com"/>`),
    AUTH_FILE,
  );
  const e = assertThrows(() => checkAuthAgainstConfig(config, noKey), ConfigError);
  assert(
    e.message.startsWith("conf/rockhopper.xml:4: <peer id>: peer fqdn:b.example.com has no PSK"),
    e.message,
  );
  const peerKey = parseAuthConfig(
    authWith(
      `<my_auth method="psk" id="fqdn:a.example.com"/><peer id="FQDN:b.example.com" psk="${GOOD_KEY}"/>`,
    ),
    AUTH_FILE,
  );
  assertEquals(checkAuthAgainstConfig(config, peerKey), []);
  const realmKey = parseAuthConfig(
    authWith(`<my_auth method="psk" id="fqdn:a.example.com" psk="${GOOD_KEY}"/>`),
    AUTH_FILE,
  );
  assertEquals(checkAuthAgainstConfig(config, realmKey), []);
});

Deno.test("cross-check: warns about a realm without any key", () => {
  const config = parseConfig(oneRealm(""), FILE);
  const auth = parseAuthConfig(
    authWith(`<my_auth method="psk" id="fqdn:a.example.com"/>`),
    AUTH_FILE,
  );
  const warnings = checkAuthAgainstConfig(config, auth);
  assertEquals(warnings.length, 1);
  assert(
    warnings[0]!.startsWith("conf/auth.xml:2: <realm>: realm 1 (branch) has no PSK yet"),
    warnings[0],
  );
});

Deno.test("cross-check: warns about a key for a peer the realm does not list", () => {
  const config = parseConfig(oneRealm(`    <peer id="fqdn:b.example.com"/>`), FILE);
  const auth = parseAuthConfig(
    authWith(`<my_auth method="psk" id="fqdn:a.example.com"/>
    <peer id="fqdn:b.example.com" psk="${GOOD_KEY}"/>
    <peer id="fqdn:c.example.com" psk="${GOOD_KEY}"/>`),
    AUTH_FILE,
  );
  const warnings = checkAuthAgainstConfig(config, auth);
  assertEquals(warnings, [
    "conf/auth.xml:5: <peer>: peer fqdn:c.example.com has a key but is not a <peer> of realm 1 " +
    "in conf/rockhopper.xml: it cannot connect until it is listed there",
  ]);
  assert(!warnings[0]!.includes(GOOD_KEY));
});

Deno.test("reads certificate authentication and resolves file paths against auth.xml", () => {
  const auth = parseAuthConfig(
    `<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="cert" id="fqdn:gw1.example.com" cert="certs/gw1.pem" key="/etc/rh/gw1.key"
             chain="certs/int1.pem certs/int2.pem"/>
    <ca file="ca/root.pem"/>
    <crl file="crl/root.crl"/>
    <peer id="fqdn:gw2.example.com" auth="cert"/>
  </realm>
</rockhopper_auth>`,
    "/etc/rockhopper/auth.xml",
  );
  const realm = auth.realms[0]!;
  assertEquals(realm.myAuth.method, "cert");
  assertEquals(realm.myAuth.cert, "/etc/rockhopper/certs/gw1.pem");
  assertEquals(realm.myAuth.key, "/etc/rh/gw1.key");
  assertEquals(realm.myAuth.chain, [
    "/etc/rockhopper/certs/int1.pem",
    "/etc/rockhopper/certs/int2.pem",
  ]);
  assertEquals(realm.cas, ["/etc/rockhopper/ca/root.pem"]);
  assertEquals(realm.crls, ["/etc/rockhopper/crl/root.crl"]);
  assertEquals(realm.peers[0]!.auth, "cert");
  assertEquals(realm.peers[0]!.psk, undefined);
});

Deno.test("rejects a certificate peer without a CA and a psk on a certificate peer", () => {
  const me = `    <my_auth method="psk" id="fqdn:a.example.com"/>\n`;
  let e = authError(authWith(`${me}    <peer id="fqdn:b.example.com" auth="cert"/>`));
  assert(e.message.includes('auth="cert" needs at least one <ca file="..."/>'), e.message);
  e = authError(
    authWith(
      `${me}    <ca file="root.pem"/>\n    <peer id="fqdn:b.example.com" auth="cert" psk="${GOOD_KEY}"/>`,
    ),
  );
  assert(e.message.includes('a peer with auth="cert" has no psk'), e.message);
  assert(!e.message.includes(GOOD_KEY), "the key is not in the message");
});

Deno.test("reads <role> rules and rejects malformed ones with the attribute named", () => {
  const auth = parseAuthConfig(
    `<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="fqdn:gw1.example.com" psk="${GOOD_KEY}"/>
    <role type="fqdn" match="example.com"/>
    <role type="any"/>
  </realm>
</rockhopper_auth>`,
    AUTH_FILE,
  );
  assertEquals(auth.realms[0]!.roles, [
    { type: "fqdn", match: "example.com", auth: "psk" },
    { type: "any", auth: "psk" },
  ]);
  const me = `    <my_auth method="psk" id="fqdn:a.example.com" psk="${GOOD_KEY}"/>\n`;
  let e = authError(authWith(`${me}    <role type="dn" match="OU="/>`));
  assert(e.message.includes("<role match>") && e.message.includes("empty value"), e.message);
  e = authError(authWith(`${me}    <role type="planet" match="earth"/>`));
  assert(e.message.includes("<role type>") && e.message.includes("not a role type"), e.message);
  e = authError(
    authWith(`    <my_auth method="psk" id="fqdn:a.example.com"/>\n    <role type="any"/>`),
  );
  assert(e.message.includes("add psk to <my_auth>"), e.message);
});
