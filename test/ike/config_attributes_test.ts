import { assert, assertEquals } from "../_assert.ts";
import { ConfigAttributeType } from "../../lib/ike/constants.ts";
import {
  configReplyAttributes,
  configRequestAttributes,
  isDnsDomain,
  readConfigValues,
  readConfigWishes,
} from "../../lib/ike/config_attributes.ts";
import { fromHex } from "../../lib/wire/mod.ts";

const A = ConfigAttributeType;
const EMPTY = new Uint8Array(0);

Deno.test("our CFG_REQUEST asks for an address, DNS and split-DNS domains", () => {
  assertEquals(configRequestAttributes({ ipv4: true, ipv6: false }).map((a) => a.type), [
    A.InternalIp4Address,
    A.InternalIp4Dns,
    A.InternalDnsDomain,
  ]);
  const both = configRequestAttributes({ ipv4: true, ipv6: true });
  assertEquals(both.map((a) => a.type), [
    A.InternalIp4Address,
    A.InternalIp4Dns,
    A.InternalIp6Address,
    A.InternalIp6Dns,
    A.InternalDnsDomain,
  ]);
  assert(both.every((a) => a.value.length === 0), "requests carry no values");
  assertEquals(readConfigWishes(both), { ipv4: true, ipv6: true, netmask: false, domains: true });
});

Deno.test("a CFG_REPLY built from values reads back as the same values", () => {
  const values = {
    addresses: [
      { address: "10.3.0.7", prefixLength: 24 },
      { address: "fd00:3::7", prefixLength: 112 },
    ],
    dns: ["10.1.0.53", "fd00:1::35"],
    subnets: ["10.1.0.0/24", "fd00:1::/64"],
    domains: ["corp.example.com", "lab.example.net"],
  };
  const attributes = configReplyAttributes(values, { netmask: true, domains: true });
  assertEquals(attributes[1]!.type, A.InternalIp4Netmask);
  assertEquals(attributes[1]!.value, fromHex("ffffff00"));
  assertEquals(readConfigValues(attributes), values);
});

Deno.test("a reply leaves out the netmask and the domains unless asked for", () => {
  const attributes = configReplyAttributes({
    addresses: [{ address: "10.3.0.7", prefixLength: 24 }],
    dns: [],
    subnets: [],
    domains: ["corp.example.com"],
  }, { netmask: false, domains: false });
  assertEquals(attributes.map((a) => a.type), [A.InternalIp4Address]);
  assertEquals(readConfigValues(attributes).addresses, [{ address: "10.3.0.7", prefixLength: 32 }]);
});

Deno.test("reading a reply skips requests, odd netmasks and names that are no domains", () => {
  const values = readConfigValues([
    { type: A.InternalIp4Address, value: EMPTY },
    { type: A.InternalIp4Address, value: fromHex("0a040001") },
    { type: A.InternalIp4Subnet, value: fromHex("0a010000 ff00ff00") },
    { type: A.InternalDnsDomain, value: new TextEncoder().encode("Corp.Example.COM.") },
    { type: A.InternalDnsDomain, value: new TextEncoder().encode("bad name") },
    { type: A.InternalDnsDomain, value: fromHex("ff fe") },
    { type: 0x4242, value: fromHex("00") },
  ]);
  assertEquals(values, {
    addresses: [{ address: "10.4.0.1", prefixLength: 32 }],
    dns: [],
    subnets: [],
    domains: ["corp.example.com"],
  });
});

Deno.test("DNS domain names are LDH labels of at most 63 characters", () => {
  assert(isDnsDomain("corp.example.com"));
  assert(isDnsDomain("xn--bcher-kva.example"));
  assert(!isDnsDomain("-bad.example"));
  assert(!isDnsDomain("a..b"));
  assert(!isDnsDomain(`${"a".repeat(64)}.example`));
});
